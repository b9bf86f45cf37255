// The AVX-512 VBMI table lookup against its plain loop, on fixed-seed tables
// and inputs of every length around the 64-byte steps, in place and not
// (skipped, and said so, on a CPU without VBMI); and which lookup each ISA
// level runs.
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

void require_vbmi() {
  if (!byte_table_vbmi_available()) GTEST_SKIP() << "this CPU (" << cpu_name() << ") lacks AVX-512 VBMI";
}

TEST(ByteTable, VbmiMatchesThePlainLoopAtEveryLength) {
  require_vbmi();
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t count : {0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 1000, 174447}) {
    const std::array<uint8_t, 256> table = random_table(rng);
    std::vector<uint8_t> in(count);
    for (uint8_t& v : in) v = static_cast<uint8_t>(byte(rng));
    std::vector<uint8_t> expected(count), got(count + 1, 0xA5);  // one guard byte past the end
    apply_byte_table_scalar(table, in.data(), expected.data(), count);
    apply_byte_table_vbmi(table, in.data(), got.data(), count);
    EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(count)), expected)
        << count << " bytes";
    EXPECT_EQ(got[count], 0xA5) << "wrote past " << count << " bytes";
    apply_byte_table_vbmi(table, in.data(), in.data(), count);
    EXPECT_EQ(in, expected) << count << " bytes in place";
  }
}

TEST(ByteTable, VbmiReadsEachIndexsOwnEntry) {
  require_vbmi();
  std::array<uint8_t, 256> identity{}, reversed{};
  std::array<uint8_t, 256> all{};
  for (size_t v = 0; v < 256; ++v) {
    all[v] = static_cast<uint8_t>(v);
    identity[v] = static_cast<uint8_t>(v);
    reversed[v] = static_cast<uint8_t>(255 - v);
  }
  std::array<uint8_t, 256> out{};
  apply_byte_table_vbmi(identity, all.data(), out.data(), all.size());
  EXPECT_EQ(out, identity);
  apply_byte_table_vbmi(reversed, all.data(), out.data(), all.size());
  EXPECT_EQ(out, reversed);
}

// A forced lower level runs what a CPU of that level runs; the reference
// backend (xnnpack: none of ours) the plain loop.
TEST(ByteTable, OnlyLevelAvx512vnniUsesVbmi) {
  EXPECT_EQ(byte_table_for(Isa::xnnpack), &apply_byte_table_scalar);
  EXPECT_EQ(byte_table_for(Isa::avx2), &apply_byte_table_scalar);
  EXPECT_EQ(byte_table_for(Isa::avxvnni), &apply_byte_table_scalar);
  EXPECT_EQ(byte_table_for(Isa::avx512vnni),
            byte_table_vbmi_available() ? &apply_byte_table_vbmi : &apply_byte_table_scalar);
  EXPECT_STREQ(byte_table_kernel_name(Isa::avx2), "reference");
}

}  // namespace
}  // namespace lookout::engine
