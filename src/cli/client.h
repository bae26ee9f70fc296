#pragma once
// The client side of the control socket: one request line out, one response line back.

#include <chrono>
#include <string>
#include <tl/expected.hpp>

#include "control/request.h"
#include "control/response.h"

namespace carp::cli {

inline constexpr std::chrono::seconds kDefaultTimeout{5};

// Connects to the UNIX stream socket at `socket_path`, sends `request` and returns carpd's
// response. Every failure (connect, send, receive, timeout, a malformed answer) is a one-line
// reason such as "cannot connect to /run/carpd/carpd.sock: No such file or directory".
tl::expected<control::Response, std::string> exchange(const std::string& socket_path,
                                                      const control::Request& request,
                                                      std::chrono::milliseconds timeout);

}  // namespace carp::cli
