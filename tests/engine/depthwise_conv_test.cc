// Our 3x3 depthwise convolution against the DEPTHWISE_CONV_2D reference
// kernel, byte for byte, at every ISA level the CPU has (avx2, avxvnni, avx512vnni;
// the others reported skipped): fixed-seed random data on odd sizes and
// channel counts (tails of the 16- and 64-channel blocks), strides 1, 2 and 3, SAME
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
  OpFixture f;
  const auto channels = static_cast<size_t>(c.c);
  const testing::ConvData d = testing::random_conv_data(
      seed, static_cast<size_t>(c.h) * static_cast<size_t>(c.w) * channels, c.c, 9,
      [&](int32_t ch, int32_t tap) { return static_cast<size_t>(tap) * channels + static_cast<size_t>(ch); },
      c.input_zp, c.filter_zp);
  const float in_scale = testing::kInputScale, filter_scale = testing::kFilterScale;
  const std::vector<uint8_t>& x = d.x;
  ConvOptions options;
  options.padding = c.padding;
  options.stride_h = options.stride_w = c.stride;
  options.activation = c.activation;
  options.depth_multiplier = 1;
  const ConvGeometry geo = compute_conv_geometry(c.h, c.w, 3, 3, options);
  const int32_t in = f.tensor(DType::uint8, {1, c.h, c.w, c.c}, {in_scale, c.input_zp});
  const int32_t fil = f.constant<uint8_t>(DType::uint8, {1, 3, 3, c.c}, d.filter, {filter_scale, c.filter_zp});
  std::vector<int32_t> inputs{in, fil};
  if (c.bias) inputs.push_back(f.constant<int32_t>(DType::int32, {c.c}, d.bias, {in_scale * filter_scale, 0}));
  const int32_t out = f.tensor(DType::uint8, {1, geo.out_h, geo.out_w, c.c}, {d.output_scale, c.output_zp});
  f.op(OpKind::depthwise_conv_2d, inputs, {out}, options);
  f.set(in, x);
  f.run();
  const std::vector<uint8_t> expected = f.get<uint8_t>(out);
  testing::expect_spread(expected, name(c));

  for (Isa isa : levels) ASSERT_EQ(depthwise_refusal(f.graph, 0, isa), "") << name(c);
  testing::expect_kernel_identical(f, levels, prepare_depthwise, in, x, out, expected, c.c, name(c));
}

class DepthwiseConvTest : public testing::OwnKernelTest {};

TEST_F(DepthwiseConvTest, SizesStridesPaddingsAndChannelTailsMatchReference) {
  uint32_t seed = 1;
  for (int32_t size : {1, 2, 3, 4, 7, 10})
    for (int32_t stride : {1, 2, 3})
      for (Padding padding : {Padding::same, Padding::valid})
        for (int32_t channels : {1, 3, 15, 16, 17, 33, 48, 64, 65}) {
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
