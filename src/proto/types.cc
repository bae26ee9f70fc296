#include "proto/types.h"

namespace carp::proto {

const char* toString(State state) noexcept {
  switch (state) {
    case State::kInit:
      return "INIT";
    case State::kBackup:
      return "BACKUP";
    case State::kMaster:
      return "MASTER";
  }
  return "?";
}

}  // namespace carp::proto
