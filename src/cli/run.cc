#include "cli/run.h"

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
    return fail(invocation.error().text);
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
    return printFindings(diagnose(*response->doctor, host, options), *response->doctor,
                         options.json, out);
  } else if (!response->message.empty()) {
    out << response->message << "\n";
  }
  out.flush();
  return 0;
}

}  // namespace carp::cli
