#include "control/doctor.h"

namespace carp::control {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DoctorBadAuth, source, count, age_seconds, counter, digest,
                                   matching_set, matching_addresses)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DoctorPeer, source, advbase, advskew, demote, age_seconds, count)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DoctorVrrp, interface, vrid, version, priority, interval, source,
                                   addresses, age_seconds, count)

// nlohmann::json finds these two by their names (ADL).
void to_json(nlohmann::json& j, const DoctorVhid& v) {  // NOLINT(readability-identifier-naming)
  j = {{"interface", v.interface},
       {"vhid", v.vhid},
       {"state", v.state},
       {"vmac", v.vmac},
       {"addresses", v.addresses},
       {"multicast", v.multicast},
       {"multicast6", v.multicast6},
       {"unicast", v.unicast},
       {"peers", v.peers}};
  if (v.bad_auth) j["bad_auth"] = *v.bad_auth;
}

void from_json(const nlohmann::json& j, DoctorVhid& v) {  // NOLINT(readability-identifier-naming)
  j.at("interface").get_to(v.interface);
  j.at("vhid").get_to(v.vhid);
  j.at("state").get_to(v.state);
  j.at("vmac").get_to(v.vmac);
  j.at("addresses").get_to(v.addresses);
  j.at("multicast").get_to(v.multicast);
  j.at("multicast6").get_to(v.multicast6);
  j.at("unicast").get_to(v.unicast);
  j.at("peers").get_to(v.peers);
  if (const auto it = j.find("bad_auth"); it != j.end() && !it->is_null()) {
    v.bad_auth = it->get<DoctorBadAuth>();
  }
}

nlohmann::json toJson(const DoctorReport& report) {
  return {{"vhids", report.vhids}, {"vrrp", report.vrrp}};
}

tl::expected<DoctorReport, std::string> doctorFromJson(const nlohmann::json& json) noexcept {
  try {
    DoctorReport report;
    json.at("vhids").get_to(report.vhids);
    json.at("vrrp").get_to(report.vrrp);
    return report;
  } catch (const std::exception& e) {
    return tl::make_unexpected(std::string("malformed doctor report: ") + e.what());
  }
}

}  // namespace carp::control
