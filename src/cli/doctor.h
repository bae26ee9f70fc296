#pragma once
// carpctl doctor: carpd's report of what it heard (control/doctor.h) combined with checks of
// the host (cli/doctor_checks.h), printed as one finding per line with its fix, or as JSON.

#include <optional>
#include <ostream>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "cli/doctor_checks.h"
#include "control/doctor.h"
#include "proto/types.h"

namespace carp::cli {

// What the doctor reads and does on the host; LinuxDoctorHost below, a fake in tests.
class DoctorHost {
 public:
  virtual ~DoctorHost() = default;
  // A file's text, or nullopt if it cannot be read.
  virtual std::optional<std::string> readFile(const std::string& path) = 0;
  // The standard output of a program run without a shell, or nullopt when it is not
  // installed or fails.
  virtual std::optional<std::string> run(const std::vector<std::string>& argv) = 0;
  // Sends an ARP probe (sender 0.0.0.0) for each of `targets` from `source_mac` on
  // `interface`, a few times, and returns the targets that answered to `source_mac`.
  virtual tl::expected<std::vector<std::string>, std::string> arpProbe(
      const std::string& interface, const proto::MacAddress& source_mac,
      const std::vector<std::string>& targets) = 0;
};

struct DoctorOptions {
  bool json = false;
  bool arp_probe = true;  // false: skip the virtual-MAC check, which sends frames
};

// Every check for the VHIDs of `report`, failures first.
std::vector<Finding> diagnose(const control::DoctorReport& report, DoctorHost& host,
                              const DoctorOptions& options);

// Prints the findings (text or JSON, the JSON with carpd's report under "heard") and returns
// the exit status: 1 if any check failed, else 0.
int printFindings(const std::vector<Finding>& findings, const control::DoctorReport& report,
                  bool json, std::ostream& out);

class LinuxDoctorHost final : public DoctorHost {
 public:
  std::optional<std::string> readFile(const std::string& path) override;
  std::optional<std::string> run(const std::vector<std::string>& argv) override;
  tl::expected<std::vector<std::string>, std::string> arpProbe(
      const std::string& interface, const proto::MacAddress& source_mac,
      const std::vector<std::string>& targets) override;
};

}  // namespace carp::cli
