// Our 3x3 depthwise convolution against the DEPTHWISE_CONV_2D reference
// kernel, byte for byte, at every ISA level the CPU has (avx2, avx512vnni;
// the others reported skipped): fixed-seed random data on odd sizes and
// channel counts (tails of the 16-channel block), strides 1, 2 and 3, SAME
// and VALID padding, zero points 0, 128 and 255, clamping activations, one
// pixel and many, one and two threads.
#include "engine/depthwise_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/isa_levels.h"
#include "engine/op_fixture.h"
#include "engine/own_kernel_check.h"
#include "engine/ops/conv_common.h"

namespace lookout::engine {
namespace {

using testing::OpFixture;

struct Case {
  int32_t h, w, c, stride;
  Padding padding = Padding::same;
  int32_t input_zp = 128, filter_zp = 128, output_zp = 0;
  Activation activation = Activation::relu6;
  bool bias = true;
};

std::string name(const Case& c) {
  return std::to_string(c.h) + "x" + std::to_string(c.w) + "x" + std::to_string(c.c) + " stride " +
         std::to_string(c.stride) + (c.padding == Padding::same ? " SAME" : " VALID") + " zp " +
         std::to_string(c.input_zp) + "/" + std::to_string(c.filter_zp) + "/" + std::to_string(c.output_zp);
}

void expect_identical(const std::vector<Isa>& levels, const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  OpFixture f;
  const float in_scale = 0.02f, filter_scale = 0.005f;
  std::vector<uint8_t> x(static_cast<size_t>(c.h) * static_cast<size_t>(c.w) * static_cast<size_t>(c.c));
  std::vector<uint8_t> filter(9 * static_cast<size_t>(c.c));
  std::vector<int32_t> bias(static_cast<size_t>(c.c));
  for (auto& v : x) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : filter) v = static_cast<uint8_t>(byte(rng));
  // As in pointwise_conv_test.cc: the bias cancels the mean of the sum and
  // the output scale spreads what is left over the range.
  std::uniform_int_distribution<int32_t> bias_dist(-2000, 2000);
  for (size_t ch = 0; ch < bias.size(); ++ch) {
    double mean = 0.0;
    for (size_t tap = 0; tap < 9; ++tap)
      mean += (127.5 - c.input_zp) * (filter[tap * static_cast<size_t>(c.c) + ch] - c.filter_zp);
    bias[ch] = static_cast<int32_t>(std::lround(-mean)) + bias_dist(rng);
  }
  constexpr double kByteVariance = (256.0 * 256.0 - 1.0) / 12.0;
  const double filter_square = kByteVariance + (127.5 - c.filter_zp) * (127.5 - c.filter_zp);
  const auto out_scale =
      static_cast<float>(in_scale * filter_scale * std::sqrt(9 * kByteVariance * filter_square) / 40.0);
  ConvOptions options;
  options.padding = c.padding;
  options.stride_h = options.stride_w = c.stride;
  options.activation = c.activation;
  options.depth_multiplier = 1;
  const ConvGeometry geo = compute_conv_geometry(c.h, c.w, 3, 3, options);
  const int32_t in = f.tensor(DType::uint8, {1, c.h, c.w, c.c}, {in_scale, c.input_zp});
  const int32_t fil = f.constant<uint8_t>(DType::uint8, {1, 3, 3, c.c}, filter, {filter_scale, c.filter_zp});
  std::vector<int32_t> inputs{in, fil};
  if (c.bias) inputs.push_back(f.constant<int32_t>(DType::int32, {c.c}, bias, {in_scale * filter_scale, 0}));
  const int32_t out = f.tensor(DType::uint8, {1, geo.out_h, geo.out_w, c.c}, {out_scale, c.output_zp});
  f.op(OpKind::depthwise_conv_2d, inputs, {out}, options);
  f.set(in, x);
  f.run();
  const std::vector<uint8_t> expected = f.get<uint8_t>(out);
  if (expected.size() >= 256) {
    const auto inside = std::count_if(expected.begin(), expected.end(), [](uint8_t v) { return v != 0 && v != 255; });
    EXPECT_GT(inside, static_cast<std::ptrdiff_t>(expected.size() / 4)) << name(c) << ": outputs mostly clamped";
  }

  for (Isa isa : levels) ASSERT_EQ(depthwise_refusal(f.graph, 0, isa), "") << name(c);
  testing::expect_kernel_identical(f, levels, prepare_depthwise, in, x, out, expected, c.c, name(c));
}

class DepthwiseConvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    levels_ = testing::runnable_isa_levels({Isa::avx2, Isa::avx512vnni});
    if (levels_.empty()) GTEST_SKIP() << "the CPU has neither avx2 nor avx512vnni";
  }
  std::vector<Isa> levels_;
};

TEST_F(DepthwiseConvTest, SizesStridesPaddingsAndChannelTailsMatchReference) {
  uint32_t seed = 1;
  for (int32_t size : {1, 2, 3, 4, 7, 10})
    for (int32_t stride : {1, 2, 3})
      for (Padding padding : {Padding::same, Padding::valid})
        for (int32_t channels : {1, 3, 15, 16, 17, 33, 48}) {
          if (padding == Padding::valid && size < 3) continue;
          expect_identical(levels_, Case{size, size + 1, channels, stride, padding, 100, 90, 20, Activation::none,
                                         (seed % 2) == 0},
                           seed);
          ++seed;
        }
}

TEST_F(DepthwiseConvTest, ExtremeZeroPointsAndActivations) {
  uint32_t seed = 1000;
  for (int32_t input_zp : {0, 255, 128})
    for (int32_t filter_zp : {0, 255, 1})
      for (Activation act : {Activation::none, Activation::relu, Activation::relu6})
        expect_identical(levels_, Case{23, 21, 37, 1 + static_cast<int32_t>(seed % 2), Padding::same, input_zp,
                                       filter_zp, 10, act},
                         seed++);
}

// The model's depthwise convolutions.
TEST_F(DepthwiseConvTest, ModelShapesMatchReference) {
  const Case cases[] = {{150, 150, 32, 1}, {150, 150, 96, 2}, {75, 75, 144, 1}, {75, 75, 144, 2},
                        {38, 38, 192, 1},  {38, 38, 192, 2},  {19, 19, 384, 1}, {19, 19, 576, 1},
                        {19, 19, 576, 2},  {10, 10, 960, 1}};
  uint32_t seed = 2000;
  for (const Case& c : cases) expect_identical(levels_, c, seed++);
}

TEST_F(DepthwiseConvTest, RefusesWhatItDoesNotTake) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 4, 4, 8}, {0.1f, 128});
  const int32_t fil = f.constant<uint8_t>(DType::uint8, {1, 5, 5, 8}, std::vector<uint8_t>(25 * 8, 1), {0.1f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 4, 4, 8}, {0.5f, 0});
  ConvOptions options;
  options.padding = Padding::same;
  f.op(OpKind::depthwise_conv_2d, {in, fil}, {out}, options);
  for (Isa isa : levels_) EXPECT_EQ(depthwise_refusal(f.graph, 0, isa), "the filter is not 3x3");
  EXPECT_EQ(depthwise_refusal(f.graph, 0, Isa::xnnpack), "the filter is not 3x3");
}

}  // namespace
}  // namespace lookout::engine
