#pragma once
// The one error type of the OS adapters (architecture.md: "one error type across an adapter"):
// every fallible call of src/os and src/os/linux returns tl::expected<T, os::Error>.

#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace carp::os {

struct Error {
  int code = 0;         // errno, or 0 when no errno applies (a refusal, a parse error)
  std::string message;  // one line, for logs: what failed and why

  // "what: <strerror(code)>".
  static Error fromErrno(int code, std::string_view what) {
    return {code, std::string(what) + ": " + std::system_category().message(code)};
  }
  static Error withMessage(std::string message) { return {0, std::move(message)}; }
};

}  // namespace carp::os
