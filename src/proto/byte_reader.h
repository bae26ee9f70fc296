#pragma once
// A bounds-checked, big-endian reader over untrusted bytes. Every read either returns the
// value and advances, or returns nullopt and leaves the position unchanged; nothing is ever
// read past the end, and no buffer is reinterpreted as a struct.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace carp::proto {

class ByteReader {
 public:
  constexpr explicit ByteReader(std::span<const std::uint8_t> data) noexcept : data_(data) {}

  constexpr std::size_t offset() const noexcept { return offset_; }
  constexpr std::size_t remaining() const noexcept { return data_.size() - offset_; }

  constexpr std::optional<std::uint8_t> u8() noexcept {
    if (remaining() < 1) return std::nullopt;
    return data_[offset_++];
  }

  // Network byte order (big-endian).
  constexpr std::optional<std::uint16_t> u16() noexcept {
    if (remaining() < 2) return std::nullopt;
    const auto value = static_cast<std::uint16_t>((data_[offset_] << 8) | data_[offset_ + 1]);
    offset_ += 2;
    return value;
  }

  // Network byte order (big-endian).
  constexpr std::optional<std::uint32_t> u32() noexcept {
    if (remaining() < 4) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | data_[offset_ + i];
    offset_ += 4;
    return value;
  }

  // N raw bytes, in the order they appear.
  template <std::size_t N>
  constexpr std::optional<std::array<std::uint8_t, N>> bytes() noexcept {
    if (remaining() < N) return std::nullopt;
    std::array<std::uint8_t, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = data_[offset_ + i];
    offset_ += N;
    return out;
  }

  constexpr bool skip(std::size_t n) noexcept {
    if (remaining() < n) return false;
    offset_ += n;
    return true;
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t offset_ = 0;
};

}  // namespace carp::proto
