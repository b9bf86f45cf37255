// Our pointwise convolution against the CONV_2D reference kernel, byte for
// byte, at every ISA level the CPU has (avx2, avxvnni, avx512vnni; the others are
// reported skipped): fixed-seed random data on tail shapes (in_c odd or not a
// multiple of 4, out_c not a multiple of 8 or 16, pixel counts not a
// multiple of the register tiles), the model's real pointwise shapes,
// extreme zero points and clamping activations, one and two threads.
#include "engine/pointwise_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/op_fixture.h"
#include "engine/ops/conv_common.h"
#include "engine/own_kernel_check.h"

namespace lookout::engine {
namespace {

using testing::OpFixture;

struct Case {
  int32_t h, w, in_c, out_c;
  int32_t input_zp = 128, filter_zp = 128, output_zp = 0;
  Activation activation = Activation::relu6;
  bool bias = true;
  int32_t k = 1, stride = 1;  // k x k filter: k > 1 or stride > 1 gather windows first
  Padding padding = Padding::same;
  int32_t filter_spread = 0;  // > 0: a trained-like filter (random_conv_data)
};

std::string name(const Case& c) {
  return std::to_string(c.h) + "x" + std::to_string(c.w) + "x" + std::to_string(c.in_c) + "->" +
         std::to_string(c.out_c) + " zp " + std::to_string(c.input_zp) + "/" + std::to_string(c.filter_zp) + "/" +
         std::to_string(c.output_zp) + " k " + std::to_string(c.k) + " stride " + std::to_string(c.stride) +
         (c.padding == Padding::same ? " SAME" : " VALID");
}

// Runs the case on the reference kernel and on our kernel at each of
// `levels` (threads 1 and 2) and expects identical bytes.
void expect_identical(const std::vector<Isa>& levels, const Case& c, uint32_t seed) {
  OpFixture f;
  const int32_t depth = c.k * c.k * c.in_c;  // filter values per output channel
  const testing::ConvData d = testing::random_conv_data(
      seed, static_cast<size_t>(c.h) * static_cast<size_t>(c.w) * static_cast<size_t>(c.in_c), c.out_c, depth,
      [&](int32_t oc, int32_t i) { return static_cast<size_t>(oc) * static_cast<size_t>(depth) + static_cast<size_t>(i); },
      c.input_zp, c.filter_zp, c.filter_spread);
  const float in_scale = testing::kInputScale, filter_scale = testing::kFilterScale;
  const std::vector<uint8_t>& x = d.x;
  const int32_t in = f.tensor(DType::uint8, {1, c.h, c.w, c.in_c}, {in_scale, c.input_zp});
  const int32_t fil =
      f.constant<uint8_t>(DType::uint8, {c.out_c, c.k, c.k, c.in_c}, d.filter, {filter_scale, c.filter_zp});
  std::vector<int32_t> inputs{in, fil};
  if (c.bias) inputs.push_back(f.constant<int32_t>(DType::int32, {c.out_c}, d.bias, {in_scale * filter_scale, 0}));
  ConvOptions options;
  options.padding = c.padding;
  options.stride_h = options.stride_w = c.stride;
  const ConvGeometry geo = compute_conv_geometry(c.h, c.w, c.k, c.k, options);
  const int32_t out = f.tensor(DType::uint8, {1, geo.out_h, geo.out_w, c.out_c}, {d.output_scale, c.output_zp});
  options.activation = c.activation;
  f.op(OpKind::conv_2d, inputs, {out}, options);
  f.set(in, x);
  f.run();
  const std::vector<uint8_t> expected = f.get<uint8_t>(out);

  testing::expect_spread(expected, name(c));

  for (Isa isa : levels) ASSERT_EQ(pointwise_refusal(f.graph, 0, isa), "") << name(c);
  testing::expect_kernel_identical(f, levels, prepare_pointwise, in, x, out, expected, c.out_c, name(c));
}

class PointwiseConvTest : public testing::OwnKernelTest {};

TEST_F(PointwiseConvTest, TailShapesMatchReference) {
  uint32_t seed = 1;
  for (int32_t pixels : {1, 4, 5, 7, 8, 9, 23})
    for (int32_t in_c : {1, 2, 3, 4, 5, 7, 13, 16, 17, 64, 67})
      for (int32_t out_c : {1, 7, 8, 9, 15, 16, 17, 24, 25, 33, 47, 48, 49, 100})
        expect_identical(levels_, Case{1, pixels, in_c, out_c, 100, 90, 20, Activation::none, (seed % 2) == 0}, seed++);
}

TEST_F(PointwiseConvTest, ExtremeZeroPointsAndActivations) {
  uint32_t seed = 1000;
  for (int32_t input_zp : {0, 255, 128})
    for (int32_t filter_zp : {0, 255, 1})
      for (Activation act : {Activation::none, Activation::relu, Activation::relu6})
        expect_identical(levels_, Case{3, 5, 37, 41, input_zp, filter_zp, 10, act}, seed++);
}

// The model's pointwise convolutions (expand, project, box predictors).
TEST_F(PointwiseConvTest, ModelShapesMatchReference) {
  const Case cases[] = {
      {150, 150, 32, 16}, {75, 75, 24, 144}, {75, 75, 144, 24}, {38, 38, 32, 192}, {38, 38, 192, 32},
      {19, 19, 64, 384},  {19, 19, 384, 64}, {19, 19, 96, 576}, {19, 19, 576, 96}, {10, 10, 160, 960},
      {10, 10, 960, 160}, {10, 10, 320, 1280}, {19, 19, 576, 273}, {10, 10, 1280, 546}, {1, 1, 128, 24},
      {2, 2, 256, 546},
  };
  uint32_t seed = 2000;
  for (const Case& c : cases) expect_identical(levels_, c, seed++);
}

// Larger filters and strides: each output pixel's window gathered, then the
// same GEMM (the SSD head's extra layers, plus odd sizes, every padding and
// zero point).
TEST_F(PointwiseConvTest, GatheredWindowsMatchReference) {
  uint32_t seed = 3000;
  for (int32_t k : {1, 2, 3})
    for (int32_t stride : {1, 2, 3})
      for (Padding padding : {Padding::same, Padding::valid})
        for (int32_t input_zp : {0, 128, 255}) {
          if (k == 1 && stride == 1) continue;
          Case c{9, 8, 17, 19, input_zp, 90, 20, Activation::relu6, (seed % 2) == 0, k, stride, padding};
          expect_identical(levels_, c, seed++);
        }
  const Case model[] = {{10, 10, 256, 512, 128, 128, 0, Activation::relu6, true, 3, 2},
                        {3, 3, 128, 256, 128, 128, 0, Activation::relu6, true, 3, 2},
                        {2, 2, 64, 128, 128, 128, 0, Activation::relu6, true, 3, 2},
                        {1, 1, 16, 7, 128, 128, 0, Activation::none, true, 3, 1}};
  for (const Case& c : model) expect_identical(levels_, c, seed++);
}

// Few input channels (the model's first layer has 3): windows of a few bytes
// per line, every padding, stride and zero point, odd sizes, one pixel, and
// clamping at both ends (filter zero points 0 and 255 push the sums far).
TEST_F(PointwiseConvTest, FewChannelWindowsMatchReference) {
  uint32_t seed = 4000;
  for (int32_t in_c : {1, 2, 3, 4})
    for (int32_t stride : {1, 2})
      for (Padding padding : {Padding::same, Padding::valid})
        for (int32_t input_zp : {0, 128, 255}) {
          const int32_t filter_zp = input_zp == 128 ? 128 : 255 - input_zp;
          const Activation act = (seed % 3) == 0 ? Activation::none : Activation::relu6;
          expect_identical(levels_, Case{11, 13, in_c, 32, input_zp, filter_zp, 7, act, (seed % 2) == 0, 3, stride, padding},
                           seed);
          ++seed;
          expect_identical(levels_, Case{3, 3, in_c, 9, input_zp, filter_zp, 250, Activation::none, true, 3, stride, padding},
                           seed++);
        }
  // One output pixel, a window larger than the image (SAME) or exactly it.
  for (Padding padding : {Padding::same, Padding::valid})
    for (int32_t in_c : {1, 3})
      expect_identical(levels_,
                       Case{padding == Padding::same ? 2 : 3, 3, in_c, 17, 0, 0, 128, Activation::none, true, 3, 3, padding},
                       seed++);
  // The model's first layer: 300x300x3 -> 32, 3x3 stride 2, SAME, relu6.
  expect_identical(levels_, Case{300, 300, 3, 32, 128, 128, 0, Activation::relu6, true, 3, 2}, seed++);
}

// Trained-like filters take avx2's bytes form, fixups and all (uniformly
// random ones above take its words form): the model's shapes, tails, extreme
// zero points, gathered windows.
TEST_F(PointwiseConvTest, TrainedFiltersMatchReference) {
  const bool avx2 = std::find(levels_.begin(), levels_.end(), Isa::avx2) != levels_.end();
  std::vector<Case> cases;
  for (int32_t spread : {3, 8, 16})
    for (const Case& c : std::initializer_list<Case>{{19, 19, 96, 576}, {10, 10, 960, 160}, {38, 38, 32, 192},
                                                     {75, 75, 144, 24}, {1, 7, 13, 17}, {2, 5, 64, 33}, {1, 1, 8, 8},
                                                     {3, 5, 37, 41, 0, 255, 10, Activation::none},
                                                     {3, 5, 40, 41, 255, 0, 10, Activation::relu},
                                                     {4, 4, 256, 40, 0, 0, 128, Activation::none},
                                                     {4, 4, 256, 40, 255, 255, 128, Activation::none},
                                                     {9, 8, 17, 19, 128, 90, 20, Activation::relu6, true, 3, 2},
                                                     {11, 13, 3, 32, 128, 128, 0, Activation::relu6, true, 3, 2}}) {
      Case t = c;
      t.filter_spread = spread;
      cases.push_back(t);
    }
  uint32_t seed = 5000;
  int64_t bytes_form = 0, fixups = 0;
  for (const Case& c : cases) {
    expect_identical(levels_, c, seed);
    if (avx2) {  // which form the filter took
      const int32_t depth = c.k * c.k * c.in_c;
      const testing::ConvData d = testing::random_conv_data(
          seed, 1, c.out_c, depth, [&](int32_t oc, int32_t i) { return static_cast<size_t>(oc * depth + i); },
          c.input_zp, c.filter_zp, c.filter_spread);
      const PointwiseConv conv(Isa::avx2, PointwiseShape{1, depth, c.out_c}, d.filter.data(), nullptr, c.input_zp,
                               c.filter_zp, Fp32Requantization{});
      bytes_form += conv.avx2_bytes() ? 1 : 0;
      fixups += conv.fixups();
    }
    ++seed;
  }
  if (!avx2) GTEST_SKIP() << "avx2 is not among this CPU's levels: its bytes form was not tried";
  // Most take the bytes form, with fixups: both paths ran.
  EXPECT_GE(bytes_form, static_cast<int64_t>(cases.size()) * 2 / 3);
  EXPECT_GT(fixups, 0);
}

TEST_F(PointwiseConvTest, RefusesWhatItDoesNotTake) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 4, 4, 8}, {0.1f, 128});
  const int32_t fil = f.constant<uint8_t>(DType::uint8, {4, 3, 3, 8}, std::vector<uint8_t>(4 * 9 * 8, 1), {0.1f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 4, 4, 4}, {0.5f, 0});
  ConvOptions dilated;
  dilated.padding = Padding::same;
  dilated.dilation_h = dilated.dilation_w = 2;
  f.op(OpKind::conv_2d, {in, fil}, {out}, dilated);
  for (Isa isa : levels_) EXPECT_EQ(pointwise_refusal(f.graph, 0, isa), "dilation is not 1");
  EXPECT_EQ(pointwise_refusal(f.graph, 0, Isa::xnnpack), "dilation is not 1");
}

}  // namespace
}  // namespace lookout::engine
