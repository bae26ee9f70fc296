#include "os/linux/journal_sink.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace carp::os::lnx {

std::optional<VhidLogFields> parseVhidPrefix(std::string_view message) {
  const auto space = message.find(' ');
  if (space == 0 || space == std::string_view::npos) return std::nullopt;
  const std::string_view interface = message.substr(0, space);
  if (interface.find(':') != std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(space);
  constexpr std::string_view kVhid = " vhid ";
  if (!rest.starts_with(kVhid)) return std::nullopt;
  rest.remove_prefix(kVhid.size());
  const auto colon = rest.find(": ");
  if (colon == 0 || colon == std::string_view::npos || colon > 3) return std::nullopt;
  const std::string_view vhid = rest.substr(0, colon);
  for (char c : vhid) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return VhidLogFields{interface, vhid};
}

namespace {

// spdlog levels to syslog priorities (sd-journal's PRIORITY field).
int syslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return 7;  // LOG_DEBUG
    case spdlog::level::info:
      return 6;  // LOG_INFO
    case spdlog::level::warn:
      return 4;  // LOG_WARNING
    case spdlog::level::err:
      return 3;  // LOG_ERR
    case spdlog::level::critical:
      return 2;  // LOG_CRIT
    case spdlog::level::off:
    case spdlog::level::n_levels:
      break;
  }
  return 6;
}

}  // namespace

std::vector<std::string> journalFields(spdlog::level::level_enum level, std::string_view message) {
  std::vector<std::string> fields;
  fields.push_back("MESSAGE=" + std::string(message));
  fields.push_back("PRIORITY=" + std::to_string(syslogPriority(level)));
  fields.emplace_back("SYSLOG_IDENTIFIER=carpd");
  if (const auto vhid = parseVhidPrefix(message)) {
    fields.push_back("CARP_INTERFACE=" + std::string(vhid->interface));
    fields.push_back("CARP_VHID=" + std::string(vhid->vhid));
  }
  return fields;
}

bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  const std::string_view text(stream);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  const char* end = text.data() + text.size();
  if (std::from_chars(text.data(), text.data() + colon, device).ptr != text.data() + colon ||
      std::from_chars(text.data() + colon + 1, end, inode).ptr != end) {
    return false;
  }
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == device && st.st_ino == inode;
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  const auto fields =
      journalFields(msg.level, std::string_view(msg.payload.data(), msg.payload.size()));
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const auto& field : fields) {
    iov.push_back({const_cast<char*>(field.data()), field.size()});
  }
  // A journal that cannot be reached loses the line; the daemon goes on.
  (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace carp::os::lnx
