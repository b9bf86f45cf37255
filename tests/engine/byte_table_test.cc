// apply_byte_table (AVX-512 VBMI where the CPU has it) against its plain
// loop, on fixed-seed tables and inputs of every length around the 64-byte
// steps, in place and not.
#include "engine/byte_table.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

namespace lookout::engine {
namespace {

std::array<uint8_t, 256> random_table(std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::array<uint8_t, 256> table{};
  for (uint8_t& v : table) v = static_cast<uint8_t>(byte(rng));
  return table;
}

TEST(ByteTable, MatchesThePlainLoopAtEveryLength) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t count : {0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 1000, 174447}) {
    const std::array<uint8_t, 256> table = random_table(rng);
    std::vector<uint8_t> in(count);
    for (uint8_t& v : in) v = static_cast<uint8_t>(byte(rng));
    std::vector<uint8_t> expected(count), got(count + 1, 0xA5);  // one guard byte past the end
    apply_byte_table_scalar(table, in.data(), expected.data(), count);
    apply_byte_table(table, in.data(), got.data(), count);
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(count)), expected)
        << count << " bytes";
    EXPECT_EQ(got[count], 0xA5) << "wrote past " << count << " bytes";
    apply_byte_table(table, in.data(), in.data(), count);
    EXPECT_EQ(in, expected) << count << " bytes in place";
  }
}

TEST(ByteTable, EveryIndexReadsItsOwnEntry) {
  std::array<uint8_t, 256> identity{}, reversed{};
  std::array<uint8_t, 256> all{};
  for (size_t v = 0; v < 256; ++v) {
    all[v] = static_cast<uint8_t>(v);
    identity[v] = static_cast<uint8_t>(v);
    reversed[v] = static_cast<uint8_t>(255 - v);
  }
  std::array<uint8_t, 256> out{};
  apply_byte_table(identity, all.data(), out.data(), all.size());
  EXPECT_EQ(out, identity);
  apply_byte_table(reversed, all.data(), out.data(), all.size());
  EXPECT_EQ(out, reversed);
}

}  // namespace
}  // namespace lookout::engine
