#include "config/address_text.h"

#include <gtest/gtest.h>

#include <string>

namespace carp::config {
namespace {

TEST(AddressTextTest, FormatsBothFamilies) {
  EXPECT_EQ(formatAddress(proto::IpAddress::v4({192, 0, 2, 1})), "192.0.2.1");
  std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  EXPECT_EQ(formatAddress(proto::IpAddress::v6(v6)), "2001:db8::1");
  EXPECT_EQ(formatInterfaceAddress({proto::IpAddress::v4({192, 0, 2, 1}), 24}), "192.0.2.1/24");
  EXPECT_EQ(formatInterfaceAddress({proto::IpAddress::v6(v6), 64}), "2001:db8::1/64");
  EXPECT_EQ(formatAddresses({{proto::IpAddress::v4({10, 0, 0, 1}), 8}}),
            std::vector<std::string>{"10.0.0.1/8"});
}

TEST(AddressTextTest, ParsesPlainAddresses) {
  const auto v4 = parseIpAddress("198.51.100.7");
  ASSERT_TRUE(v4);
  EXPECT_EQ(*v4, proto::IpAddress::v4({198, 51, 100, 7}));
  const auto v6 = parseIpAddress("fe80::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, proto::Family::kIPv6);
  EXPECT_TRUE(v6->isIpv6LinkLocal());
  EXPECT_EQ(formatAddress(*parseIpAddress("2001:DB8:0:0::0:1")), "2001:db8::1");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", " 1.2.3.4", "1.2.3.4 ",
                          "1.2.3.4/24", "fe80::1%eth0", "::g", "0x7f.1", "localhost"}) {
    EXPECT_FALSE(parseIpAddress(bad)) << bad;
  }
  EXPECT_FALSE(parseIpAddress(std::string_view("1.2.3.4\0", 8)));
  EXPECT_FALSE(parseIpAddress(std::string(100, '1')));
}

TEST(AddressTextTest, ParsesInterfaceAddresses) {
  const auto a = parseInterfaceAddress("192.0.2.1/24");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address, proto::IpAddress::v4({192, 0, 2, 1}));
  EXPECT_EQ(a->prefix_length, 24);
  EXPECT_TRUE(parseInterfaceAddress("192.0.2.1/1"));
  EXPECT_TRUE(parseInterfaceAddress("192.0.2.1/32"));
  EXPECT_TRUE(parseInterfaceAddress("2001:db8::1/128"));
  for (const char* bad :
       {"192.0.2.1", "192.0.2.1/", "192.0.2.1/0", "192.0.2.1/33", "192.0.2.1/+24", "192.0.2.1/ 24",
        "192.0.2.1/24 ", "192.0.2.1/-1", "192.0.2.1/24/1", "2001:db8::1/129", "2001:db8::1/0",
        "/24", "x/24", "192.0.2.1/99999999999999999999"}) {
    EXPECT_FALSE(parseInterfaceAddress(bad)) << bad;
  }
  EXPECT_EQ(parseInterfaceAddressOrError("10.0.0.1/40").error(),
            "'10.0.0.1/40': prefix length must be 1..32 for IPv4");
}

TEST(AddressTextTest, UnicastProblems) {
  const auto problem = [](const char* text) { return unicastProblem(*parseIpAddress(text)); };
  EXPECT_FALSE(problem("192.0.2.1"));
  EXPECT_FALSE(problem("2001:db8::1"));
  EXPECT_FALSE(problem("fe80::1"));
  EXPECT_EQ(problem("0.0.0.0"), "is the unspecified address");
  EXPECT_EQ(problem("127.0.0.1"), "is a loopback address");
  EXPECT_EQ(problem("224.0.0.18"), "is a multicast address");
  EXPECT_EQ(problem("239.255.255.255"), "is a multicast address");
  EXPECT_EQ(problem("255.255.255.255"), "is the broadcast address");
  EXPECT_EQ(problem("::"), "is the unspecified address");
  EXPECT_EQ(problem("::1"), "is a loopback address");
  EXPECT_EQ(problem("ff02::12"), "is a multicast address");
  EXPECT_EQ(problem("::ffff:192.0.2.1"), "is an IPv4-mapped IPv6 address");
}

}  // namespace
}  // namespace carp::config
