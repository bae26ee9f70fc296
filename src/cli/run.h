#pragma once

#include <ostream>

namespace carp::cli {

// All of carpctl but the process: parses argv, talks to carpd, prints the result on `out` and
// "carpctl: <reason>" on `err`. Returns the exit status: 0 on success, 1 otherwise.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace carp::cli
