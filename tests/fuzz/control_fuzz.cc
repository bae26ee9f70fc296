// Fuzz target: one control-socket line -> parseRequest and parseResponse. Both must refuse or
// accept without crashing, and what they accept must survive an encode/parse round trip.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/request.h"
#include "control/response.h"

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  if (const auto request = carp::control::parseRequest(line)) {
    const auto again = carp::control::parseRequest(carp::control::encodeRequest(*request));
    if (!again || *again != *request) std::abort();
  } else if (request.error().find('\n') != std::string::npos) {
    std::abort();
  }

  if (const auto response = carp::control::parseResponse(line)) {
    const std::string encoded = carp::control::encodeResponse(*response);
    if (encoded.find('\n') != std::string::npos) std::abort();
    const auto again = carp::control::parseResponse(encoded);
    if (!again || *again != *response) std::abort();
    if (response->status) (void)carp::control::formatStatusText(*response->status);
  }
  return 0;
}
