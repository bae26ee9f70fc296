#pragma once
// The usual visitor helper for std::visit over a set of lambdas.

namespace carp::proto {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace carp::proto
