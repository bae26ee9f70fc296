#include "control/response.h"

#include "control/json_line.h"

namespace carp::control {

Response Response::success(std::string message) {
  Response r;
  r.message = detail::oneLine(message);
  return r;
}

Response Response::failure(std::string_view error) {
  Response r;
  r.ok = false;
  r.error = detail::oneLine(error);
  if (r.error.empty()) r.error = "failed";
  return r;
}

Response Response::ofStatus(StatusReport report) {
  Response r;
  r.status = std::move(report);
  return r;
}

Response Response::ofDoctor(DoctorReport report) {
  Response r;
  r.doctor = std::move(report);
  return r;
}

std::string encodeResponse(const Response& response) {
  nlohmann::json j;
  if (!response.ok) {
    j = {{"ok", false}, {"error", detail::oneLine(response.error)}};
    return detail::dumpLine(j);
  }
  // The status fields sit beside "ok" rather than under a key: {"ok":true,"vhids":[...],...}.
  j = response.status ? toJson(*response.status) : nlohmann::json::object();
  j["ok"] = true;
  if (response.doctor) j["doctor"] = toJson(*response.doctor);
  if (!response.message.empty()) j["message"] = detail::oneLine(response.message);
  return detail::dumpLine(j);
}

tl::expected<Response, std::string> parseResponse(std::string_view line) noexcept {
  try {
    auto parsed = detail::parseJsonObjectLine(line, kMaxResponseBytes);
    if (!parsed) return tl::make_unexpected(parsed.error());
    const nlohmann::json& j = *parsed;
    const auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) {
      return tl::make_unexpected(std::string("response has no boolean 'ok'"));
    }
    if (!ok->get<bool>()) {
      const auto error = j.find("error");
      if (error == j.end() || !error->is_string()) {
        return tl::make_unexpected(std::string("failure response has no 'error' string"));
      }
      return Response::failure(error->get<std::string>());
    }
    Response response;
    if (const auto message = j.find("message"); message != j.end()) {
      if (!message->is_string())
        return tl::make_unexpected(std::string("'message' is not a string"));
      response.message = detail::oneLine(message->get<std::string>());
    }
    if (j.contains("vhids")) {
      auto status = statusFromJson(j);
      if (!status) return tl::make_unexpected(status.error());
      response.status = std::move(*status);
    }
    if (const auto doctor = j.find("doctor"); doctor != j.end()) {
      auto report = doctorFromJson(*doctor);
      if (!report) return tl::make_unexpected(report.error());
      response.doctor = std::move(*report);
    }
    return response;
  } catch (...) {
    return tl::make_unexpected(std::string("cannot parse response"));
  }
}

}  // namespace carp::control
