#include "cli/run.h"

#include <algorithm>
#include <string>
#include <variant>

#include "cli/client.h"
#include "cli/command_line.h"
#include "cli/doctor.h"
#include "control/status.h"

namespace carp::cli {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  const auto fail = [&](const std::string& reason) {
    err << "carpctl: " << reason << "\n";
    return 1;
  };

  auto invocation = parseCommandLine(argc, argv);
  if (!invocation) {
    if (invocation.error().exit_code == 0) {
      out << invocation.error().text;
      return 0;
    }
    err << "carpctl: " << invocation.error().text << "\n";
    return invocation.error().exit_code;
  }

  const auto response = exchange(invocation->socket, invocation->request, kDefaultTimeout);
  if (!response) return fail(response.error());
  if (!response->ok) return fail(response->error);

  if (std::holds_alternative<control::StatusRequest>(invocation->request)) {
    if (!response->status) return fail("carpd's answer holds no status");
    if (invocation->json) {
      out << control::toJson(*response->status)
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    } else {
      out << control::formatStatusText(*response->status);
    }
  } else if (std::holds_alternative<control::DoctorRequest>(invocation->request)) {
    if (!response->doctor) return fail("carpd's answer holds no doctor report");
    LinuxDoctorHost host;
    const DoctorOptions options{invocation->json, invocation->arp_probe};
    const auto findings = diagnose(*response->doctor, host, options);
    if (printFindings(findings, *response->doctor, options.json, out) != 0) {
      // The one-line reason that every failing carpctl command gives (product.md).
      return fail("doctor: " +
                  std::to_string(std::count_if(
                      findings.begin(), findings.end(),
                      [](const Finding& f) { return f.severity == Severity::kFail; })) +
                  " check(s) failed");
    }
    return 0;
  } else if (!response->message.empty()) {
    out << response->message << "\n";
  }
  out.flush();
  return 0;
}

}  // namespace carp::cli
