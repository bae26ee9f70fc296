// Runs a libFuzzer target without libFuzzer, so every fuzz target doubles as a regression test
// (as dnsdist does): over every file under the directories or files given as arguments, every
// prefix and every single-bit flip of those files, and a fixed set of pseudo-random inputs.
// A crash, an abort or a sanitizer report fails the test; nothing here knows the target.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

void run(const Bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

bool readFile(const std::filesystem::path& path, Bytes& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Prefixes and bit flips of one corpus entry: cheap coverage of the truncation and corruption
// paths around every seed.
std::size_t runMutations(const Bytes& seed) {
  std::size_t runs = 0;
  for (std::size_t n = 0; n < seed.size(); ++n, ++runs)
    run(Bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(n)));
  for (std::size_t i = 0; i < seed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit, ++runs) {
      Bytes flipped = seed;
      flipped[i] = static_cast<std::uint8_t>(flipped[i] ^ (1u << bit));
      run(flipped);
    }
  }
  return runs;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_regular_file(root, ec)) {
      files.push_back(root);
    } else if (std::filesystem::is_directory(root, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
  }

  std::size_t runs = 0;
  Bytes input;
  for (const auto& path : files) {
    if (!readFile(path, input)) {
      std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
      return 2;
    }
    run(input);
    runs += 1 + runMutations(input);
  }

  // Generated inputs, the same on every run: empty, every single byte, then random lengths
  // and contents with and without a copied corpus prefix.
  run({});
  for (int b = 0; b < 256; ++b) run({static_cast<std::uint8_t>(b)});
  runs += 257;
  std::mt19937 rng(20240508);
  for (int i = 0; i < 20000; ++i, ++runs) {
    Bytes random(rng() % 300);
    for (auto& b : random) b = static_cast<std::uint8_t>(rng());
    run(random);
  }

  std::printf("replay: %zu corpus files, %zu inputs, no crash\n", files.size(), runs);
  return 0;
}
