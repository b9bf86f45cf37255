// Our ADD against the ADD reference kernel, byte for byte, at every ISA
// level the CPU has (avx2, avxvnni, avx512vnni; the others are reported skipped):
// fixed-seed random bytes, lengths around the 8-lane steps and the
// threadpool's tasks, input/output scale ratios across XNNPACK's range,
// extreme zero points, clamping activations, one and two threads.
#include "engine/own_add.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/op_fixture.h"
#include "engine/own_kernel_check.h"

namespace lookout::engine {
namespace {

using testing::OpFixture;

struct Case {
  int32_t count;
  Quantization a, b, out;
  Activation activation = Activation::none;
};

std::string name(const Case& c) {
  const auto q = [](Quantization v) { return std::to_string(v.scale) + "/" + std::to_string(v.zero_point); };
  return std::to_string(c.count) + " elements, " + q(c.a) + " + " + q(c.b) + " -> " + q(c.out) + " activation " +
         std::to_string(static_cast<int>(c.activation));
}

// input2 is a constant (the kernel reads it like any buffer), input1 random.
void expect_identical(const std::vector<Isa>& levels, const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> x(static_cast<size_t>(c.count)), y(static_cast<size_t>(c.count));
  for (auto& v : x) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : y) v = static_cast<uint8_t>(byte(rng));
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {1, c.count}, c.a);
  const int32_t b = f.constant<uint8_t>(DType::uint8, {1, c.count}, y, c.b);
  const int32_t out = f.tensor(DType::uint8, {1, c.count}, c.out);
  f.op(OpKind::add, {a, b}, {out}, AddOptions{c.activation});
  f.set(a, x);
  f.run();
  const std::vector<uint8_t> expected = f.get<uint8_t>(out);
  for (Isa isa : levels) ASSERT_EQ(own_add_refusal(f.graph, 0, isa), "") << name(c);
  testing::expect_kernel_identical(f, levels, prepare_own_add, a, x, out, expected, c.count, name(c));
}

class OwnAddTest : public testing::OwnKernelTest {};

TEST_F(OwnAddTest, MatchesReference) {
  uint32_t seed = 1;
  // Input/output ratios from 2^-10 to just under 2^8 (XNNPACK's range), equal and unequal inputs.
  const Quantization quants[][3] = {
      {{0.5f, 10}, {0.25f, 100}, {1.0f, 5}},      {{0.02f, 128}, {0.03f, 120}, {0.04f, 130}},
      {{0.001f, 0}, {0.9f, 255}, {1.0f, 255}},    {{2.0f, 255}, {0.01f, 0}, {0.0079f, 0}},
      {{0.1f, 3}, {0.1f, 250}, {0.7f, 128}},      {{0.0173f, 77}, {0.0211f, 141}, {0.0234f, 119}},
  };
  for (int32_t count : {1, 7, 8, 9, 31, 33, 16384, 16384 + 17, 3 * 16384 + 5, 75 * 75 * 24})
    for (const auto& q : quants)
      for (Activation act : {Activation::none, Activation::relu6}) {
        expect_identical(levels_, Case{count, q[0], q[1], q[2], act}, seed++);
        if (::testing::Test::HasFatalFailure()) return;
      }
}

TEST_F(OwnAddTest, RefusesWhatItDoesNotTake) {
  OpFixture f;
  const int32_t a = f.tensor(DType::uint8, {1, 4, 8}, {0.1f, 128});
  const int32_t vector = f.tensor(DType::uint8, {8}, {0.1f, 128});
  const int32_t out = f.tensor(DType::uint8, {1, 4, 8}, {0.1f, 128});
  f.op(OpKind::add, {a, vector}, {out}, AddOptions{});
  const int32_t tiny = f.tensor(DType::uint8, {1, 4, 8}, {1e-6f, 0});
  f.op(OpKind::add, {a, tiny}, {out}, AddOptions{});
  for (Isa isa : levels_) {
    EXPECT_EQ(own_add_refusal(f.graph, 0, isa), "an input is broadcast");
    EXPECT_EQ(own_add_refusal(f.graph, 1, isa), "scales XNNPACK's quint8 ADD refuses");
  }
  EXPECT_EQ(own_add_refusal(f.graph, 0, Isa::xnnpack), "an input is broadcast");
}

}  // namespace
}  // namespace lookout::engine
