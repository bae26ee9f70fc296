#pragma once
// Logging to the systemd journal with structured fields. Under systemd, stderr is a stream
// into journald (JOURNAL_STREAM names it); carpd then sends each line through the journal's
// native protocol instead, so that a line about one VHID carries CARP_INTERFACE and CARP_VHID
// and operators can run `journalctl CARP_VHID=1`.

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carp::os::lnx {

// The interface and VHID of a line that starts with "<interface> vhid <n>: ", the prefix the
// engine writes on every line about one VHID. Interface names cannot hold spaces or ':', so
// the prefix is unambiguous.
struct VhidLogFields {
  std::string_view interface;
  std::string_view vhid;
};
std::optional<VhidLogFields> parseVhidPrefix(std::string_view message);

// The journal fields of one line: MESSAGE, PRIORITY (syslog level), SYSLOG_IDENTIFIER, and
// CARP_INTERFACE and CARP_VHID when the line is about one VHID.
std::vector<std::string> journalFields(spdlog::level::level_enum level, std::string_view message);

// True when JOURNAL_STREAM holds the device and inode of our stderr (systemd.exec(5)), so that
// stderr goes to the journal and not to a terminal or a file.
bool stderrIsJournal();

// An spdlog sink that writes each line to the journal with journalFields().
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}
};

}  // namespace carp::os::lnx
