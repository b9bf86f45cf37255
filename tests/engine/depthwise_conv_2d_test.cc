// DEPTHWISE_CONV_2D reference kernel: hand-computed cases (float32 and
// uint8), depth_multiplier 2, SAME stride 2 padding, dilation, prepare's
// refusals, and a fixed-seed random comparison against double arithmetic.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/ops/conv_common.h"
#include "engine/op_fixture.h"
#include "engine/op_test_util.h"

namespace lookout::engine {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::OpFixture;
using testing::prepare_error;

ConvOptions options(Padding padding, int32_t stride = 1, int32_t depth_multiplier = 1, int32_t dilation = 1,
                    Activation activation = Activation::none) {
  ConvOptions o;
  o.padding = padding;
  o.stride_h = o.stride_w = stride;
  o.dilation_h = o.dilation_w = dilation;
  o.depth_multiplier = depth_multiplier;
  o.activation = activation;
  return o;
}

// ---------------------------------------------------------------------------
// Hand-computed values.

// Input 1x2x2x2, pixels (ic0, ic1): (1,2) (3,4) (5,6) (7,8).
// Filter 1x2x2x4, depth_multiplier 2, output channel oc = ic*2 + m:
//   tap (0,0): [1, -1,  2, 0]     tap (0,1): [0, 1,  1, 1]
//   tap (1,0): [1,  0, -1, 2]     tap (1,1): [2, 1,  0, 1]
// VALID -> one pixel:
//   oc0 = ic0 . [1,0,1,2]   = 1 + 0 + 5 + 14 = 20
//   oc1 = ic0 . [-1,1,0,1]  = -1 + 3 + 0 + 7 = 9
//   oc2 = ic1 . [2,1,-1,0]  = 4 + 4 - 6 + 0  = 2
//   oc3 = ic1 . [0,1,2,1]   = 0 + 4 + 12 + 8 = 24
// plus bias [0, 1, -2, 0.5] -> [20, 10, 0, 24.5].
const std::vector<float> kInput = {1, 2, 3, 4, 5, 6, 7, 8};
const std::vector<float> kFilter = {1, -1, 2, 0, 0, 1, 1, 1, 1, 0, -1, 2, 2, 1, 0, 1};

TEST(DepthwiseConv2dTest, FloatDepthMultiplier2) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 2, 2, 2});
  const int32_t filter = f.constant<float>(DType::float32, {1, 2, 2, 4}, kFilter);
  const int32_t bias = f.constant<float>(DType::float32, {4}, {0.0f, 1.0f, -2.0f, 0.5f});
  const int32_t out = f.tensor(DType::float32, {1, 1, 1, 4});
  f.op(OpKind::depthwise_conv_2d, {in, filter, bias}, {out}, options(Padding::valid, 1, 2));
  f.set(in, kInput);
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(20.0f, 10.0f, 0.0f, 24.5f));
}

// The same, quantized: input scale 0.5 zp 4 (q = 2x + 4), filter scale 0.5
// zp 100 (q = 2w + 100), bias scale 0.25 (q = 4b), output scale 0.25 zp 20.
// Integer acc = sum (2x)(2w) + 4b = 4 * real, M = 0.5*0.5/0.25 = 1:
// 80, 40, 0, 98 -> +20 -> 100, 60, 20, 118.
TEST(DepthwiseConv2dTest, Uint8DepthMultiplier2WithZeroPoints) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 2, 2, 2}, {0.5f, 4});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 4},
                                             {102, 98, 104, 100, 100, 102, 102, 102, 102, 100, 98, 104, 104, 102, 100, 102},
                                             {0.5f, 100});
  const int32_t bias = f.constant<int32_t>(DType::int32, {4}, {0, 4, -8, 2}, {0.25f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 4}, {0.25f, 20});
  f.op(OpKind::depthwise_conv_2d, {in, filter, bias}, {out}, options(Padding::valid, 1, 2));
  f.set<uint8_t>(in, {6, 8, 10, 12, 14, 16, 18, 20});
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(100, 60, 20, 118));
}

// depth_multiplier 1, two channels, 3x3 input, 2x2 filter, VALID -> 2x2x2.
// Channel 0 is 1..9 with filter [1 2; 3 4] (as the CONV_2D tiny case:
// 37, 47, 67, 77); channel 1 is all 10 with filter [1 0; 0 -1] (0 everywhere).
// uint8: input scale 1 zp 50, filter scale 1 zp 10, output scale 1 zp 30,
// bias [3, -5]: channel 0 -> 40, 50, 70, 80 (+30), channel 1 -> -5 (+30).
TEST(DepthwiseConv2dTest, Uint8TinyValid) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 2}, {1.0f, 50});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 2}, {11, 11, 12, 10, 13, 10, 14, 9}, {1.0f, 10});
  const int32_t bias = f.constant<int32_t>(DType::int32, {2}, {3, -5}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 2}, {1.0f, 30});
  f.op(OpKind::depthwise_conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  std::vector<uint8_t> x;
  for (int i = 1; i <= 9; ++i) {
    x.push_back(static_cast<uint8_t>(50 + i));
    x.push_back(60);
  }
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(70, 25, 80, 25, 100, 25, 110, 25));
}

// The requantization is XNNPACK's (as CONV_2D's): float(acc) * scale rounded
// half to even. Input scale 0.5 zp 0, filter scale 1 zp 0 (q 1), output
// scale 1 zp 50, a 1x1 filter over four channels with x = 1, 3, 5, 0 and
// bias 0, 0, 0, -3: acc = 1, 3, 5, -3 -> 0.5, 1.5, 2.5, -1.5
// -> 0, 2, 2, -2 (half away from zero would give 1, 2, 3, -2) -> +50.
TEST(DepthwiseConv2dTest, Uint8HalvesRoundToEven) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 4}, {0.5f, 0});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 4}, {1, 1, 1, 1}, {1.0f, 0});
  const int32_t bias = f.constant<int32_t>(DType::int32, {4}, {0, 0, 0, -3}, {0.5f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 4}, {1.0f, 50});
  f.op(OpKind::depthwise_conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  f.set<uint8_t>(in, {1, 3, 5, 0});
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(50, 52, 52, 48));
}

// SAME, stride 2 on an even 4x4 input with a 3x3 filter: the one pad row and
// column go at the bottom/right (pad_top = pad_left = 0). Channel 0 has
// values 1..16 and a filter of ones:
//   (0,0) = rows 0-2 x cols 0-2 = 54    (0,1) = rows 0-2 x cols 2-3 = 45
//   (1,0) = rows 2-3 x cols 0-2 = 72    (1,1) = rows 2-3 x cols 2-3 = 54
// Channel 1 is all 1 with a filter that is 1 only at the centre tap (1,1)
// and 100 at the bottom-right tap (2,2): output (1,1)'s bottom-right tap is
// padding, so it reads 1; (0,0)'s is inside, so it reads 101.
// uint8 with input zp 9 and filter zp 5; scales 1; padding must add nothing.
TEST(DepthwiseConv2dTest, Uint8SameStride2EvenInputPadsBottomRight) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 4, 4, 2}, {1.0f, 9});
  std::vector<uint8_t> w(18);
  for (size_t t = 0; t < 9; ++t) {
    w[t * 2] = 6;      // channel 0: ones
    w[t * 2 + 1] = 5;  // channel 1: zeros...
  }
  w[4 * 2 + 1] = 6;    // ...but 1 at the centre
  w[8 * 2 + 1] = 105;  // ...and 100 at the bottom-right
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 3, 3, 2}, w, {1.0f, 5});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 2}, {1.0f, 0});
  f.op(OpKind::depthwise_conv_2d, {in, filter, -1}, {out}, options(Padding::same, 2));
  std::vector<uint8_t> x;
  for (int i = 1; i <= 16; ++i) {
    x.push_back(static_cast<uint8_t>(i + 9));
    x.push_back(10);
  }
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(54, 101, 45, 1, 72, 1, 54, 1));
}

// Float SAME stride 1 with a 3x3 filter on a 3x3 input (pads 1 on every
// side). Single channel 1..9, filter of ones: each output is the sum of its
// 3x3 neighbourhood inside the image.
TEST(DepthwiseConv2dTest, FloatSameStride1) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 3, 3, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  const int32_t out = f.tensor(DType::float32, {1, 3, 3, 1});
  f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::same));
  f.set<float>(in, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  f.run();
  // (0,0) = 1+2+4+5, (0,1) = 1+2+3+4+5+6, (1,1) = 45, ...
  EXPECT_THAT(f.get<float>(out), ElementsAre(12, 21, 16, 27, 45, 33, 24, 39, 28));
}

// Dilation 2: 5x5 input v = 1..25, 2x2 filter [1 2; 3 4] spanning 3, VALID
// -> 3x3, out = v + 2(v+2) + 3(v+10) + 4(v+12) = 10v + 82 (v = 5y+x+1).
TEST(DepthwiseConv2dTest, FloatDilation2) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 5, 5, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 2, 2, 1}, {1, 2, 3, 4});
  const int32_t out = f.tensor(DType::float32, {1, 3, 3, 1});
  f.op(OpKind::depthwise_conv_2d, {in, filter, -1}, {out}, options(Padding::valid, 1, 1, 2));
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(92, 102, 112, 142, 152, 162, 192, 202, 212));
}

// Fused ReLU6, float and uint8 (output scale 0.1 zp 10: range [10, 70]).
TEST(DepthwiseConv2dTest, FusedRelu6) {
  {
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 1, 1, 3});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 3}, {1.0f, 2.0f, -1.0f});
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 3});
    f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid, 1, 1, 1, Activation::relu6));
    f.set<float>(in, {2.5f, 4.0f, 1.0f});
    f.run();
    EXPECT_THAT(f.get<float>(out), ElementsAre(2.5f, 6.0f, 0.0f));
  }
  {
    // Input scale 0.1 zp 0, filter scale 1 zp 3 (q 4 -> 1), M = 1:
    // output = x + 10 clamped to [10, 70]; the third channel's filter is -1.
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 3}, {0.1f, 0});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 3}, {4, 4, 2}, {1.0f, 3});
    const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 3}, {0.1f, 10});
    f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid, 1, 1, 1, Activation::relu6));
    f.set<uint8_t>(in, {25, 90, 30});
    f.run();
    EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(35, 70, 10));
  }
}

// ---------------------------------------------------------------------------
// prepare's refusals.

TEST(DepthwiseConv2dTest, PrepareRejectsFilterChannelsNotInputTimesMultiplier) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 2}, {1.0f, 0});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 3}, std::vector<uint8_t>(12, 1), {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 3}, {1.0f, 0});
  f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid, 1, 2));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("op #0 DEPTHWISE_CONV_2D"), HasSubstr("filter tensor 't1'"),
                                      HasSubstr("has 3 channels"), HasSubstr("2 x depth_multiplier 2 = 4")));
}

TEST(DepthwiseConv2dTest, PrepareRejectsFilterDim0NotOne) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 3, 3, 2});
  const int32_t filter = f.constant<float>(DType::float32, {2, 2, 2, 2}, std::vector<float>(16, 1.0f));
  const int32_t out = f.tensor(DType::float32, {1, 2, 2, 2});
  f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("filter tensor 't1'"), HasSubstr("dimension 0 equal to 1, has 2")));
}

TEST(DepthwiseConv2dTest, PrepareRejectsNonConstantFilter) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 2}, {1.0f, 0});
  const int32_t filter = f.tensor(DType::uint8, {1, 2, 2, 2}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 2}, {1.0f, 0});
  f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t1'"), HasSubstr("must be a constant")));
}

TEST(DepthwiseConv2dTest, PrepareRejectsWrongOutputShape) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 4, 4, 2}, {1.0f, 0});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 3, 3, 2}, std::vector<uint8_t>(18, 1), {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 2}, {1.0f, 0});
  f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::same, 2));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("output tensor 't2' (uint8 [1,1,1,2])"),
                                      HasSubstr("must have shape [1,2,2,2]"), HasSubstr("SAME")));
}

TEST(DepthwiseConv2dTest, PrepareRejectsBadDepthMultiplierAndBias) {
  {
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 1, 1, 2});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 2}, {1, 1});
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 2});
    f.op(OpKind::depthwise_conv_2d, {in, filter}, {out}, options(Padding::valid, 1, 0));
    EXPECT_THAT(prepare_error(f), HasSubstr("depth_multiplier 0 must be >= 1"));
  }
  {
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 2}, {1.0f, 0});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 2}, {1, 1}, {1.0f, 0});
    const int32_t bias = f.constant<int32_t>(DType::int32, {1}, {0}, {1.0f, 0});
    const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 2}, {1.0f, 0});
    f.op(OpKind::depthwise_conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("bias tensor 't2'"), HasSubstr("has 1 elements"),
                                        HasSubstr("2 output channels")));
  }
}

// ---------------------------------------------------------------------------
// Fixed-seed random shapes (depth_multiplier 1-3, strides, dilations, both
// paddings) against double arithmetic: within 1 of round(real/out_scale)+zp.

TEST(DepthwiseConv2dTest, Uint8RandomAgainstDouble) {
  std::mt19937 rng(4242);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto real = [&rng](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  size_t checked = 0, exact = 0, unsaturated = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const int batches = uniform(1, 2), in_c = uniform(1, 12);
    int in_h = uniform(1, 10), in_w = uniform(1, 10);
    const int k_h = uniform(1, 3), k_w = uniform(1, 3);
    // One draw per statement: argument evaluation order is unspecified.
    ConvOptions o;
    o.padding = uniform(0, 1) ? Padding::same : Padding::valid;
    o.stride_h = uniform(1, 2);
    o.stride_w = uniform(1, 3);
    o.dilation_h = uniform(1, 2);
    o.dilation_w = uniform(1, 2);
    o.depth_multiplier = uniform(0, 2) == 0 ? uniform(2, 3) : 1;
    if (o.padding == Padding::valid) {
      in_h = std::max(in_h, (k_h - 1) * o.dilation_h + 1);
      in_w = std::max(in_w, (k_w - 1) * o.dilation_w + 1);
    }
    const int dm = o.depth_multiplier, out_c = in_c * dm;
    const ConvGeometry g = compute_conv_geometry(in_h, in_w, k_h, k_w, o);
    const Quantization in_q{static_cast<float>(real(0.005, 0.05)), uniform(0, 255)};
    const Quantization f_q{static_cast<float>(real(0.001, 0.02)), uniform(0, 255)};
    std::vector<uint8_t> x(static_cast<size_t>(batches * in_h * in_w * in_c));
    for (auto& v : x) v = static_cast<uint8_t>(uniform(0, 255));
    std::vector<uint8_t> w(static_cast<size_t>(k_h * k_w * out_c));
    for (auto& v : w) v = static_cast<uint8_t>(uniform(0, 255));
    std::vector<int32_t> bias(static_cast<size_t>(out_c));
    for (auto& v : bias) v = uniform(-20000, 20000);

    const double in_s = in_q.scale, f_s = f_q.scale;
    std::vector<double> acc;
    for (int n = 0; n < batches; ++n)
      for (int oy = 0; oy < g.out_h; ++oy)
        for (int ox = 0; ox < g.out_w; ++ox)
          for (int oc = 0; oc < out_c; ++oc) {
            const int ic = oc / dm;
            double sum = in_s * f_s * bias[static_cast<size_t>(oc)];
            for (int ky = 0; ky < k_h; ++ky)
              for (int kx = 0; kx < k_w; ++kx) {
                const int iy = oy * o.stride_h - g.pad_top + ky * o.dilation_h;
                const int ix = ox * o.stride_w - g.pad_left + kx * o.dilation_w;
                if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
                const int xq = x[static_cast<size_t>(((n * in_h + iy) * in_w + ix) * in_c + ic)];
                const int wq = w[static_cast<size_t>((ky * k_w + kx) * out_c + oc)];
                sum += in_s * (xq - in_q.zero_point) * f_s * (wq - f_q.zero_point);
              }
            acc.push_back(sum);
          }
    const auto [min_it, max_it] = std::minmax_element(acc.begin(), acc.end());
    const double span = std::max(*max_it - *min_it, 1e-3);
    Quantization out_q{static_cast<float>(span / real(180, 250)), 0};
    out_q.zero_point = std::clamp(static_cast<int>(std::round(-*min_it / out_q.scale)) + uniform(-10, 10), 0, 255);

    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {batches, in_h, in_w, in_c}, in_q);
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, k_h, k_w, out_c}, w, f_q);
    const int32_t b = f.constant<int32_t>(DType::int32, {out_c}, bias, {in_q.scale * f_q.scale, 0});
    const int32_t out = f.tensor(DType::uint8, {batches, g.out_h, g.out_w, out_c}, out_q);
    f.op(OpKind::depthwise_conv_2d, {in, filter, b}, {out}, o);
    f.set(in, x);
    f.run();
    const std::vector<uint8_t> got = f.get<uint8_t>(out);
    for (size_t k = 0; k < acc.size(); ++k) {
      const double expected = std::clamp(std::round(acc[k] / out_q.scale) + out_q.zero_point, 0.0, 255.0);
      const double actual = got[k];
      ASSERT_NEAR(actual, expected, 1.0) << "iteration " << iter << ", output element " << k;
      ++checked;
      exact += actual == expected;
      unsaturated += actual > 0 && actual < 255;
    }
  }
  EXPECT_GT(checked, 2000u);
  EXPECT_GT(unsaturated, checked * 3 / 4);
  EXPECT_GT(exact, checked * 99 / 100);
}

// The float kernel against double arithmetic, depth_multiplier 1-3.
TEST(DepthwiseConv2dTest, FloatRandomAgainstDouble) {
  std::mt19937 rng(99);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int iter = 0; iter < 20; ++iter) {
    const int in_c = uniform(1, 6), dm = uniform(1, 3), out_c = in_c * dm, k = uniform(1, 3);
    const int in_h = uniform(k, 8), in_w = uniform(k, 8);
    const Padding padding = uniform(0, 1) ? Padding::same : Padding::valid;
    const ConvOptions o = options(padding, uniform(1, 2), dm);
    const ConvGeometry g = compute_conv_geometry(in_h, in_w, k, k, o);
    std::vector<float> x(static_cast<size_t>(in_h * in_w * in_c)), w(static_cast<size_t>(k * k * out_c)),
        bias(static_cast<size_t>(out_c));
    for (auto* v : {&x, &w, &bias})
      for (float& e : *v) e = value(rng);
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, in_h, in_w, in_c});
    const int32_t filter = f.constant<float>(DType::float32, {1, k, k, out_c}, w);
    const int32_t b = f.constant<float>(DType::float32, {out_c}, bias);
    const int32_t out = f.tensor(DType::float32, {1, g.out_h, g.out_w, out_c});
    f.op(OpKind::depthwise_conv_2d, {in, filter, b}, {out}, o);
    f.set(in, x);
    f.run();
    const std::vector<float> got = f.get<float>(out);
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox)
        for (int oc = 0; oc < out_c; ++oc) {
          double sum = bias[static_cast<size_t>(oc)];
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * o.stride_h - g.pad_top + ky, ix = ox * o.stride_w - g.pad_left + kx;
              if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
              sum += static_cast<double>(x[static_cast<size_t>((iy * in_w + ix) * in_c + oc / dm)]) *
                     w[static_cast<size_t>((ky * k + kx) * out_c + oc)];
            }
          ASSERT_NEAR(got[static_cast<size_t>((oy * g.out_w + ox) * out_c + oc)], sum, 1e-4) << "iteration " << iter;
        }
  }
}

}  // namespace
}  // namespace lookout::engine
