// CONV_2D reference kernel: hand-computed cases (float32 and uint8), the
// requantization's rounding and saturation, padding geometry, prepare's
// refusals, and a fixed-seed random comparison against double arithmetic.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
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
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::OpFixture;
using testing::prepare_error;

ConvOptions options(Padding padding, int32_t stride = 1, int32_t dilation = 1,
                    Activation activation = Activation::none) {
  ConvOptions o;
  o.padding = padding;
  o.stride_h = o.stride_w = stride;
  o.dilation_h = o.dilation_w = dilation;
  o.activation = activation;
  return o;
}

// 1x1 uint8 conv over a row of pixels, one channel in and out: acc is
// (x - input_zp) * (w - filter_zp) + bias, so tests can aim at chosen
// accumulators. Returns the outputs.
std::vector<uint8_t> pointwise_u8(const std::vector<uint8_t>& x, Quantization in_q, uint8_t w,
                                  Quantization filter_q, int32_t bias, Quantization out_q,
                                  Activation activation = Activation::none) {
  OpFixture f;
  const auto n = static_cast<int32_t>(x.size());
  const int32_t in = f.tensor(DType::uint8, {1, 1, n, 1}, in_q);
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 1}, {w}, filter_q);
  const int32_t b = f.constant<int32_t>(DType::int32, {1}, {bias}, {in_q.scale * filter_q.scale, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 1, n, 1}, out_q);
  f.op(OpKind::conv_2d, {in, filter, b}, {out}, options(Padding::valid, 1, 1, activation));
  f.set(in, x);
  f.run();
  return f.get<uint8_t>(out);
}

// ---------------------------------------------------------------------------
// Hand-computed values.

// Input 1x3x3x1 = 1..9, filter 2x2 = [1 2; 3 4], bias 0.5, VALID:
//   out(0,0) = 1*1 + 2*2 + 4*3 + 5*4 = 37 (+0.5), out(0,1) = 2+6+15+24 = 47,
//   out(1,0) = 4+10+21+32 = 67, out(1,1) = 5+12+24+36 = 77.
TEST(Conv2dTest, FloatTinyValid) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 3, 3, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 2, 2, 1}, {1, 2, 3, 4});
  const int32_t bias = f.constant<float>(DType::float32, {1}, {0.5f});
  const int32_t out = f.tensor(DType::float32, {1, 2, 2, 1});
  f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  f.set<float>(in, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(37.5f, 47.5f, 67.5f, 77.5f));
}

// Two output channels, two input channels: filter [oc][ky][kx][ic].
// Input 1x2x2x2 pixels (a,b): (1,-1) (2,0) (3,1) (0,2); 2x2 VALID -> 1 pixel.
//   oc0 weights all 1:                   1-1+2+0+3+1+0+2 = 8
//   oc1 weights (ic0=1, ic1=-2) per tap: (1+2+3+0) - 2*(-1+0+1+2) = 6 - 4 = 2
TEST(Conv2dTest, FloatTwoChannelsInAndOut) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 2, 2, 2});
  const int32_t filter = f.constant<float>(DType::float32, {2, 2, 2, 2},
                                           {1, 1, 1, 1, 1, 1, 1, 1, 1, -2, 1, -2, 1, -2, 1, -2});
  const int32_t bias = f.constant<float>(DType::float32, {2}, {0.0f, -0.25f});
  const int32_t out = f.tensor(DType::float32, {1, 1, 1, 2});
  f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  f.set<float>(in, {1, -1, 2, 0, 3, 1, 0, 2});
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(8.0f, 1.75f));
}

// The float case above, quantized with non-zero zero points everywhere:
//   input  scale 0.5,  zp 10: real 1..9   -> q 12,14,...,28
//   filter scale 0.25, zp 3:  real 1,2,3,4 -> q 7,11,15,19
//   bias   scale 0.125:       real 0.5    -> q 4
//   output scale 1,    zp 5.
// Integer acc = sum (2x)(4w) + 4 = 8*37 + 4 = 300, etc.; scale 0.125, so
// 300*0.125 = 37.5 -> 38 (an exact half, to the even neighbour) -> +5 = 43.
// Likewise 47.5 -> 48 -> 53, 67.5 -> 68 -> 73, 77.5 -> 78 -> 83.
TEST(Conv2dTest, Uint8TinyValidWithZeroPoints) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 1}, {0.5f, 10});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 1}, {7, 11, 15, 19}, {0.25f, 3});
  const int32_t bias = f.constant<int32_t>(DType::int32, {1}, {4}, {0.125f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 1}, {1.0f, 5});
  f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  f.set<uint8_t>(in, {12, 14, 16, 18, 20, 22, 24, 26, 28});
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(43, 53, 73, 83));
}

// The requantization is XNNPACK's: float(acc) * scale, rounded half to
// even. Scale 0.125, acc = x - 128 (filter w - zp = 1, no bias), output zp 100:
//   12 -> 1.5 -> 2, -12 -> -1.5 -> -2, 4 -> 0.5 -> 0, -4 -> -0.5 -> 0,
//   20 -> 2.5 -> 2, -20 -> -2.5 -> -2, 6 -> 0.75 -> 1, -6 -> -0.75 -> -1.
TEST(Conv2dTest, Uint8RequantizationRoundsHalvesToEven) {
  const auto got = pointwise_u8({140, 116, 132, 124, 148, 108, 134, 122}, {1.0f, 128}, 4, {0.125f, 3}, 0,
                                {1.0f, 100});
  EXPECT_THAT(got, ElementsAre(102, 98, 100, 100, 102, 98, 101, 99));
}

// The rounding rule on its own: scale 0.5, acc = 1, 3, 5, -1, -3, -5 gives
// exact halves 0.5, 1.5, 2.5, -0.5, -1.5, -2.5. Output zp 100.
//   half to even (XNNPACK, the spec):  0, 2, 2,  0, -2, -2 -> 100 102 102 100 98 98
//   half away from zero (std::round):  1, 2, 3, -1, -2, -3 -> 101 102 103  99 98 97
//   TFLite's builtin fixed point:      1, 2, 3,  0, -1, -2 -> 101 102 103 100 99 98
TEST(Conv2dTest, Uint8HalvesRoundToEvenNotAwayFromZero) {
  const auto got = pointwise_u8({129, 131, 133, 127, 125, 123}, {1.0f, 128}, 4, {0.5f, 3}, 0, {1.0f, 100});
  EXPECT_THAT(got, ElementsAre(100, 102, 102, 100, 98, 98));
}

// The scale is input * filter / output in float arithmetic, as XNNPACK
// computes it: 0.01f * 0.02f / 0.03f = 0x1.b4e81cp-8, one float above the
// double computation's 0x1.b4e81ap-8. acc 225 times the float scale is
// 1.5000001 -> 2; times the double one 1.4999999 -> 1.
TEST(Conv2dTest, Uint8ScaleIsComputedInFloat) {
  EXPECT_THAT(pointwise_u8({225}, {0.01f, 0}, 1, {0.02f, 0}, 0, {0.03f, 0}), ElementsAre(2));
}

// M = 1 (all scales 1), zero points 0 in and out, w - zp = 2:
// 2*200 = 400 saturates at 255, 2*127 = 254 stays; bias -300 makes
// 2*100 - 300 = -100, which saturates at 0.
TEST(Conv2dTest, Uint8SaturatesAtBothEnds) {
  EXPECT_THAT(pointwise_u8({200, 127, 0}, {1.0f, 0}, 5, {1.0f, 3}, 0, {1.0f, 0}), ElementsAre(255, 254, 0));
  EXPECT_THAT(pointwise_u8({100, 150, 255}, {1.0f, 0}, 5, {1.0f, 3}, -300, {1.0f, 0}), ElementsAre(0, 0, 210));
}

// Fused ReLU6 on an output of scale 0.1, zero point 10: the activation range
// is [10 + 0/0.1, 10 + 6/0.1] = [10, 70]. Input scale 0.1 zp 0, filter
// scale 1 (w - zp = 1), so output = x + 10 before clamping:
//   x = 0 -> 10, 30 -> 40, 60 -> 70, 61 -> 70 (clamped), 200 -> 70.
// A negative real value: bias -50 (scale 0.1) gives x = 20 -> -3.0 -> 10.
TEST(Conv2dTest, Uint8FusedRelu6) {
  EXPECT_THAT(pointwise_u8({0, 30, 60, 61, 200}, {0.1f, 0}, 4, {1.0f, 3}, 0, {0.1f, 10}, Activation::relu6),
              ElementsAre(10, 40, 70, 70, 70));
  EXPECT_THAT(pointwise_u8({20, 0}, {0.1f, 0}, 4, {1.0f, 3}, -50, {0.1f, 10}, Activation::relu6),
              ElementsAre(10, 10));
  // Without the fused activation the same values go below 10 and past 70.
  EXPECT_THAT(pointwise_u8({20, 200}, {0.1f, 0}, 4, {1.0f, 3}, -50, {0.1f, 10}),
              ElementsAre(0, 160));
}

// The fused activation's clamp is XNNPACK's quantization of its real bounds
// (what TFLite's XNNPACK delegate hands XNNPACK): ReLU6 on an output of scale
// 4, zero point 1 clamps at lrintf(6 / 4 + 1) = lrintf(2.5) = 2, where
// TFLite's builtin range says 1 + round(1.5) = 3. Scale 1 * 1 / 4 = 0.25,
// acc = x - 128: 0 -> 1, 4 -> 1 + 1 = 2, 127 -> 31.75 -> 32 + 1 -> 2.
TEST(Conv2dTest, Uint8FusedRelu6ClampAsXnnpackQuantizesIt) {
  EXPECT_THAT(pointwise_u8({128, 132, 255}, {1.0f, 128}, 4, {1.0f, 3}, 0, {4.0f, 1}, Activation::relu6),
              ElementsAre(1, 2, 2));
}

// A scale of 256 or more is one XNNPACK refuses, so TFLite (and our XNNPACK
// backend) leave the op to TFLite's builtin kernel: fixed-point arithmetic
// with TFLite's activation range. acc = x - 128 = 0, 1, -1, output zp 1:
//   scale 64 * 1 / 4 = 16, XNNPACK's:   1, 16 + 1 -> clamp 2, -15 -> 1
//   scale 64 * 16 / 4 = 256, TFLite's:  1, 256 + 1 -> clamp 3, -255 -> 1
TEST(Conv2dTest, Uint8ScaleOf256FallsBackToTfliteArithmetic) {
  EXPECT_THAT(pointwise_u8({128, 129, 127}, {64.0f, 128}, 4, {1.0f, 3}, 0, {4.0f, 1}, Activation::relu6),
              ElementsAre(1, 2, 1));
  EXPECT_THAT(pointwise_u8({128, 129, 127}, {64.0f, 128}, 4, {16.0f, 3}, 0, {4.0f, 1}, Activation::relu6),
              ElementsAre(1, 3, 1));
}

// ReLU6 carried by the output range instead (how this model does it):
// output scale 6/255, zero point 0 covers exactly [0, 6]. Input scale 6/255,
// zp 128 (negative reals possible), filter scale 1, w - zp = 1:
// x = 128 + 85 -> 2.0 -> 85; x = 100 -> -0.66 -> 0; bias +200 (scale 6/255)
// on x = 255 -> 127 + 200 = 327 -> 255 (6.0).
TEST(Conv2dTest, Uint8Relu6ThroughOutputRange) {
  const float s = 6.0f / 255.0f;
  EXPECT_THAT(pointwise_u8({213, 100, 128}, {s, 128}, 4, {1.0f, 3}, 0, {s, 0}), ElementsAre(85, 0, 0));
  EXPECT_THAT(pointwise_u8({255}, {s, 128}, 4, {1.0f, 3}, 200, {s, 0}), ElementsAre(255));
}

// Float fused ReLU6 clamps to [0, 6]; ReLU only below.
TEST(Conv2dTest, FloatFusedActivations) {
  for (const auto& [act, expected] : {std::pair{Activation::relu6, std::vector<float>{0.0f, 2.5f, 6.0f}},
                                      std::pair{Activation::relu, std::vector<float>{0.0f, 2.5f, 9.0f}},
                                      std::pair{Activation::none, std::vector<float>{-4.0f, 2.5f, 9.0f}}}) {
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 1, 3, 1});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 1}, {2.0f});
    const int32_t out = f.tensor(DType::float32, {1, 1, 3, 1});
    f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::valid, 1, 1, act));
    f.set<float>(in, {-2.0f, 1.25f, 4.5f});
    f.run();
    EXPECT_THAT(f.get<float>(out), ElementsAreArray(expected));
  }
}

// ---------------------------------------------------------------------------
// Geometry.

TEST(Conv2dTest, GeometrySamePutsTheExtraPadAtBottomRight) {
  // 4 wide, 3 tap, stride 2: out 2, total pad (2-1)*2+3-4 = 1 -> 0 before, 1 after.
  ConvGeometry g = compute_conv_geometry(4, 4, 3, 3, options(Padding::same, 2));
  EXPECT_EQ(g.out_h, 2);
  EXPECT_EQ(g.out_w, 2);
  EXPECT_EQ(g.pad_top, 0);
  EXPECT_EQ(g.pad_left, 0);
  EXPECT_EQ(g.pad_bottom, 1);
  EXPECT_EQ(g.pad_right, 1);
  // The model's first conv: 300, 3x3, stride 2 -> 150, pads 0 / 1.
  g = compute_conv_geometry(300, 300, 3, 3, options(Padding::same, 2));
  EXPECT_EQ(g.out_h, 150);
  EXPECT_EQ(g.pad_top, 0);
  EXPECT_EQ(g.pad_bottom, 1);
  // Odd input 5, 3 tap, stride 2: out 3, total 2*2+3-5 = 2 -> 1 / 1.
  g = compute_conv_geometry(5, 5, 3, 3, options(Padding::same, 2));
  EXPECT_EQ(g.out_w, 3);
  EXPECT_EQ(g.pad_left, 1);
  EXPECT_EQ(g.pad_right, 1);
  // Stride 1, 3 tap: 1 / 1, size kept.
  g = compute_conv_geometry(7, 6, 3, 3, options(Padding::same, 1));
  EXPECT_EQ(g.out_h, 7);
  EXPECT_EQ(g.out_w, 6);
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_bottom, 1);
  // Dilation 2 makes a 2-tap filter span 3: in 5, SAME stride 1 -> total 2.
  g = compute_conv_geometry(5, 5, 2, 2, options(Padding::same, 1, 2));
  EXPECT_EQ(g.out_h, 5);
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_bottom, 1);
  // A filter larger than the input under SAME pads both sides.
  g = compute_conv_geometry(1, 1, 3, 3, options(Padding::same, 1));
  EXPECT_EQ(g.out_h, 1);
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_bottom, 1);
}

TEST(Conv2dTest, GeometryValid) {
  ConvGeometry g = compute_conv_geometry(5, 6, 3, 3, options(Padding::valid, 2));
  EXPECT_EQ(g.out_h, 2);  // ceil((5-2)/2)
  EXPECT_EQ(g.out_w, 2);  // ceil((6-2)/2)
  EXPECT_EQ(g.pad_top + g.pad_bottom + g.pad_left + g.pad_right, 0);
  g = compute_conv_geometry(5, 5, 2, 2, options(Padding::valid, 1, 2));
  EXPECT_EQ(g.out_h, 3);  // 5 - 3 + 1
  EXPECT_THROW(compute_conv_geometry(2, 5, 3, 3, options(Padding::valid)), std::domain_error);
  EXPECT_THROW(compute_conv_geometry(5, 5, 3, 3, options(Padding::same, 0)), std::domain_error);
  EXPECT_THROW(compute_conv_geometry(5, 5, 3, 3, options(Padding::same, 1, 0)), std::domain_error);
  // (k-1)*dilation past int32 is refused, not overflowed.
  EXPECT_THROW(compute_conv_geometry(5, 5, 3, 3, options(Padding::same, 1, std::numeric_limits<int32_t>::max())),
               std::domain_error);
}

// Input 4x4 = 1..16 (row-major), 3x3 filter of ones, SAME, stride 2 -> 2x2.
// The pad row/column is at the bottom/right only, so output (0,0) sums rows
// 0-2 x cols 0-2 with no padding, and (1,1) sees the padding:
//   (0,0) = 1+2+3 + 5+6+7 + 9+10+11 = 54      (0,1) = 3+4 + 7+8 + 11+12 = 45
//   (1,0) = 9+10+11 + 13+14+15 = 72           (1,1) = 11+12 + 15+16 = 54
// (Padding at the top/left instead would give (0,0) = 1+2+5+6 = 14.)
TEST(Conv2dTest, FloatSameStride2EvenInputPadsBottomRight) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 4, 4, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  const int32_t out = f.tensor(DType::float32, {1, 2, 2, 1});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::same, 2));
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(54.0f, 45.0f, 72.0f, 54.0f));
}

// The same in uint8 with input zp 7: padded taps must contribute nothing
// (real zero), not (0 - 7) * w. Input q = value + 7 (scale 1), filter of
// ones (zp 1, q 2), output scale 1 zp 0.
TEST(Conv2dTest, Uint8SameStride2PaddingContributesZero) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 4, 4, 1}, {1.0f, 7});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 3, 3, 1}, std::vector<uint8_t>(9, 2), {1.0f, 1});
  const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 1}, {1.0f, 0});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::same, 2));
  std::vector<uint8_t> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = static_cast<uint8_t>(i + 1 + 7);
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(54, 45, 72, 54));
}

// Input 5x5 = 1..25, filter 3x3 of ones, VALID stride 2 -> 2x2, windows at
// rows/cols {0,2}: (0,0) = 1+2+3+6+7+8+11+12+13 = 63; a column step adds 2
// to each of the 9 values (+18), a row step 10 (+90): 63, 81, 153, 171.
TEST(Conv2dTest, FloatValidStride2) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 5, 5, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  const int32_t out = f.tensor(DType::float32, {1, 2, 2, 1});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::valid, 2));
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(63.0f, 81.0f, 153.0f, 171.0f));
}

// Input 5x5 = v(r,c) = 5r+c+1, filter 2x2 [1 2; 3 4] with dilation 2, VALID:
// taps at (0,0) (0,2) (2,0) (2,2), output 3x3:
//   out = v + 2(v+2) + 3(v+10) + 4(v+12) = 10v + 82, v = 5y+x+1.
TEST(Conv2dTest, FloatDilation2) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 5, 5, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 2, 2, 1}, {1, 2, 3, 4});
  const int32_t out = f.tensor(DType::float32, {1, 3, 3, 1});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::valid, 1, 2));
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  f.set(in, x);
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(92, 102, 112, 142, 152, 162, 192, 202, 212));
}

// Dilation 2 with SAME: 3x3 input = 1..9, 2x2 ones filter spanning 3 (pads
// 1/1). Output (y,x) sums v at (y-1+{0,2}, x-1+{0,2}) inside the image:
//   (0,0) = v(1,1) = 5   (0,1) = v(1,0)+v(1,2) = 4+6 = 10   (0,2) = 5
//   (1,0) = v(0,1)+v(2,1) = 2+8 = 10  (1,1) = 1+3+7+9 = 20  (1,2) = 10
//   (2,*) = 5, 10, 5
// In uint8, input zp 3, filter zp 0 (q 1), scales 1.
TEST(Conv2dTest, Uint8Dilation2Same) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 1}, {1.0f, 3});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 1}, {1, 1, 1, 1}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 3, 3, 1}, {1.0f, 0});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::same, 1, 2));
  f.set<uint8_t>(in, {4, 5, 6, 7, 8, 9, 10, 11, 12});
  f.run();
  EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(5, 10, 5, 10, 20, 10, 5, 10, 5));
}

// Bias absent, either as input -1 or as only two inputs.
TEST(Conv2dTest, BiasAbsent) {
  for (bool two_inputs : {false, true}) {
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 3, 3, 1}, {0.5f, 10});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 2, 2, 1}, {7, 11, 15, 19}, {0.25f, 3});
    const int32_t out = f.tensor(DType::uint8, {1, 2, 2, 1}, {1.0f, 5});
    f.op(OpKind::conv_2d, two_inputs ? std::vector<int32_t>{in, filter} : std::vector<int32_t>{in, filter, -1},
         {out}, options(Padding::valid));
    f.set<uint8_t>(in, {12, 14, 16, 18, 20, 22, 24, 26, 28});
    f.run();
    // 37, 47, 67, 77 exactly (acc 296 * 0.125 = 37), + zero point 5.
    EXPECT_THAT(f.get<uint8_t>(out), ElementsAre(42, 52, 72, 82)) << "two inputs: " << two_inputs;
  }
}

// Batch 2: each image convolved on its own.
TEST(Conv2dTest, FloatBatch2) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {2, 2, 2, 1});
  const int32_t filter = f.constant<float>(DType::float32, {1, 2, 2, 1}, {1, 10, 100, 1000});
  const int32_t out = f.tensor(DType::float32, {2, 1, 1, 1});
  f.op(OpKind::conv_2d, {in, filter, -1}, {out}, options(Padding::valid));
  f.set<float>(in, {1, 2, 3, 4, 5, 6, 7, 8});
  f.run();
  EXPECT_THAT(f.get<float>(out), ElementsAre(4321.0f, 8765.0f));
}

// ---------------------------------------------------------------------------
// prepare's refusals name the tensor, the value and the rule.

struct ConvCase {
  OpFixture f;
  int32_t in = -1, filter = -1, bias = -1, out = -1;
};

// A well-formed uint8 case (1x3x3x2 input, 2x2 filter, 4 output channels,
// VALID -> 1x2x2x4) that each test then breaks in one way.
void build_u8(ConvCase& c, std::vector<int32_t> filter_shape = {4, 2, 2, 2},
              std::vector<int32_t> out_shape = {1, 2, 2, 4}, bool filter_constant = true) {
  c.in = c.f.tensor(DType::uint8, {1, 3, 3, 2}, {0.5f, 128});
  size_t n = 1;
  for (int32_t d : filter_shape) n *= static_cast<size_t>(d);
  if (filter_constant) {
    c.filter = c.f.constant<uint8_t>(DType::uint8, filter_shape, std::vector<uint8_t>(n, 130), {0.01f, 128});
  } else {
    c.filter = c.f.tensor(DType::uint8, filter_shape, {0.01f, 128});
  }
  c.bias = c.f.constant<int32_t>(DType::int32, {filter_shape[0]},
                                 std::vector<int32_t>(static_cast<size_t>(filter_shape[0]), 0), {0.005f, 0});
  c.out = c.f.tensor(DType::uint8, out_shape, {0.1f, 128});
  c.f.op(OpKind::conv_2d, {c.in, c.filter, c.bias}, {c.out}, options(Padding::valid));
}

TEST(Conv2dTest, PrepareAcceptsTheWellFormedCase) {
  ConvCase c;
  build_u8(c);
  EXPECT_NO_THROW(c.f.prepare_only());
}

TEST(Conv2dTest, PrepareRejectsWrongFilterChannels) {
  ConvCase c;
  build_u8(c, {4, 2, 2, 3});
  EXPECT_THAT(prepare_error(c.f), AllOf(HasSubstr("op #0 CONV_2D"), HasSubstr("filter tensor 't1'"),
                                        HasSubstr("has 3 input channels"), HasSubstr("input's 2")));
}

TEST(Conv2dTest, PrepareRejectsNonConstantFilter) {
  ConvCase c;
  build_u8(c, {4, 2, 2, 2}, {1, 2, 2, 4}, /*filter_constant=*/false);
  EXPECT_THAT(prepare_error(c.f), AllOf(HasSubstr("'t1'"), HasSubstr("must be a constant")));
}

TEST(Conv2dTest, PrepareRejectsWrongOutputShape) {
  ConvCase c;
  build_u8(c, {4, 2, 2, 2}, {1, 3, 3, 4});
  EXPECT_THAT(prepare_error(c.f), AllOf(HasSubstr("output tensor 't3' (uint8 [1,3,3,4])"),
                                        HasSubstr("must have shape [1,2,2,4]"), HasSubstr("VALID")));
}

TEST(Conv2dTest, PrepareRejectsWrongOutputChannels) {
  ConvCase c;
  build_u8(c, {4, 2, 2, 2}, {1, 2, 2, 5});
  EXPECT_THAT(prepare_error(c.f), HasSubstr("must have shape [1,2,2,4]"));
}

TEST(Conv2dTest, PrepareRejectsBiasOfWrongLength) {
  OpFixture f;
  const int32_t in = f.tensor(DType::float32, {1, 2, 2, 1});
  const int32_t filter = f.constant<float>(DType::float32, {2, 1, 1, 1}, {1, 2});
  const int32_t bias = f.constant<float>(DType::float32, {3}, {0, 0, 0});
  const int32_t out = f.tensor(DType::float32, {1, 2, 2, 2});
  f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("bias tensor 't2'"), HasSubstr("has 3 elements"),
                                      HasSubstr("2 output channels")));
}

TEST(Conv2dTest, PrepareRejectsWrongTypes) {
  {  // float bias on a uint8 conv
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 1}, {1}, {1.0f, 0});
    const int32_t bias = f.constant<float>(DType::float32, {1}, {0.0f});
    const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
    f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t2'"), HasSubstr("must be int32")));
  }
  {  // float output on a uint8 conv
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 1}, {1}, {1.0f, 0});
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t2'"), HasSubstr("must be uint8")));
  }
  {  // int32 input
    OpFixture f;
    const int32_t in = f.tensor(DType::int32, {1, 1, 1, 1});
    const int32_t filter = f.constant<int32_t>(DType::int32, {1, 1, 1, 1}, {1});
    const int32_t out = f.tensor(DType::int32, {1, 1, 1, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("input tensor 't0'"), HasSubstr("uint8 or float32")));
  }
}

TEST(Conv2dTest, PrepareRejectsBadRanksCountsAndOptions) {
  {  // rank 3 input
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {2, 2, 1});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 1}, {1});
    const int32_t out = f.tensor(DType::float32, {1, 2, 2, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t0'"), HasSubstr("rank 4")));
  }
  {  // one input
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 1, 1, 1});
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 1});
    f.op(OpKind::conv_2d, {in}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), HasSubstr("expects 2 or 3 inputs"));
  }
  {  // stride 0
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 2, 2, 1});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 1}, {1});
    const int32_t out = f.tensor(DType::float32, {1, 2, 2, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::same, 0));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("op #0 CONV_2D"), HasSubstr("stride_height 0 must be >= 1")));
  }
  {  // VALID with a filter larger than the input
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 2, 2, 1});
    const int32_t filter = f.constant<float>(DType::float32, {1, 3, 3, 1}, std::vector<float>(9, 1.0f));
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), HasSubstr("VALID padding needs input height 2 >= effective filter height 3"));
  }
  {  // a zero dimension
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 0, 2, 1});
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 1}, {1});
    const int32_t out = f.tensor(DType::float32, {1, 0, 2, 1});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("input tensor 't0'"), HasSubstr("every dimension >= 1")));
  }
  {  // dimensions whose product overflows int32
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, 1, 1, 1});
    f.graph.tensors[static_cast<size_t>(in)].shape = {65536, 65536, 1, 1};  // no data behind it: prepare only
    const int32_t filter = f.constant<float>(DType::float32, {1, 1, 1, 1}, {1});
    const int32_t out = f.tensor(DType::float32, {1, 1, 1, 1});
    f.graph.tensors[static_cast<size_t>(out)].shape = {65536, 65536, 1, 1};
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t0'"), HasSubstr("at most 2^31-1 elements")));
  }
  {  // not uint8-quantized
    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 1}, {0.0f, 0});
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 1}, {1}, {1.0f, 0});
    const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
    f.op(OpKind::conv_2d, {in, filter}, {out}, options(Padding::valid));
    EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("'t0'"), HasSubstr("scale > 0")));
  }
}

// A bias that could push the int32 accumulator past 2^31-1 is refused rather
// than left to overflow.
TEST(Conv2dTest, PrepareRejectsAccumulatorOverflow) {
  OpFixture f;
  const int32_t in = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
  const int32_t filter = f.constant<uint8_t>(DType::uint8, {1, 1, 1, 1}, {255}, {1.0f, 0});
  const int32_t bias = f.constant<int32_t>(DType::int32, {1}, {std::numeric_limits<int32_t>::max() - 1000}, {1.0f, 0});
  const int32_t out = f.tensor(DType::uint8, {1, 1, 1, 1}, {1.0f, 0});
  f.op(OpKind::conv_2d, {in, filter, bias}, {out}, options(Padding::valid));
  EXPECT_THAT(prepare_error(f), AllOf(HasSubstr("output channel 0"), HasSubstr("int32")));
}

// ---------------------------------------------------------------------------
// Fixed-seed random shapes against double arithmetic: each uint8 output is
// within 1 of round(real_acc / out_scale) + zp, clamped to the activation
// range (the only differences are the float scale and product and the
// rounding of halves).

struct RandomConv {
  int32_t batches, in_h, in_w, in_c, out_c, k_h, k_w;
  ConvOptions o;
};

TEST(Conv2dTest, Uint8RandomAgainstDouble) {
  std::mt19937 rng(20240531);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto real = [&rng](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  size_t checked = 0, exact = 0, unsaturated = 0;
  for (int iter = 0; iter < 60; ++iter) {
    RandomConv c{uniform(1, 2), uniform(1, 9), uniform(1, 9), uniform(1, 8), uniform(1, 8), uniform(1, 3),
                 uniform(1, 3), {}};
    // One draw per statement: argument evaluation order is unspecified.
    c.o.padding = uniform(0, 1) ? Padding::same : Padding::valid;
    c.o.stride_h = uniform(1, 2);
    c.o.stride_w = uniform(1, 3);
    c.o.dilation_h = uniform(1, 2);
    c.o.dilation_w = uniform(1, 2);
    c.o.activation = uniform(0, 3) == 0 ? Activation::relu6 : Activation::none;
    if (c.o.padding == Padding::valid) {  // keep the input at least as large as the filter
      c.in_h = std::max(c.in_h, (c.k_h - 1) * c.o.dilation_h + 1);
      c.in_w = std::max(c.in_w, (c.k_w - 1) * c.o.dilation_w + 1);
    }
    const ConvGeometry g = compute_conv_geometry(c.in_h, c.in_w, c.k_h, c.k_w, c.o);
    const Quantization in_q{static_cast<float>(real(0.005, 0.05)), uniform(0, 255)};
    const Quantization f_q{static_cast<float>(real(0.001, 0.02)), uniform(0, 255)};
    const int taps = c.k_h * c.k_w * c.in_c;
    std::vector<uint8_t> x(static_cast<size_t>(c.batches * c.in_h * c.in_w * c.in_c));
    for (auto& v : x) v = static_cast<uint8_t>(uniform(0, 255));
    std::vector<uint8_t> w(static_cast<size_t>(c.out_c * taps));
    for (auto& v : w) v = static_cast<uint8_t>(uniform(0, 255));
    std::vector<int32_t> bias(static_cast<size_t>(c.out_c));
    for (auto& v : bias) v = uniform(-20000, 20000);

    // Real-valued accumulators in double, straight from the definition.
    const double in_s = in_q.scale, f_s = f_q.scale;
    std::vector<double> acc(static_cast<size_t>(c.batches * g.out_h * g.out_w * c.out_c));
    size_t i = 0;
    for (int n = 0; n < c.batches; ++n)
      for (int oy = 0; oy < g.out_h; ++oy)
        for (int ox = 0; ox < g.out_w; ++ox)
          for (int oc = 0; oc < c.out_c; ++oc) {
            double sum = in_s * f_s * bias[static_cast<size_t>(oc)];
            for (int ky = 0; ky < c.k_h; ++ky)
              for (int kx = 0; kx < c.k_w; ++kx) {
                const int iy = oy * c.o.stride_h - g.pad_top + ky * c.o.dilation_h;
                const int ix = ox * c.o.stride_w - g.pad_left + kx * c.o.dilation_w;
                if (iy < 0 || iy >= c.in_h || ix < 0 || ix >= c.in_w) continue;
                for (int ic = 0; ic < c.in_c; ++ic) {
                  const int xq = x[static_cast<size_t>(((n * c.in_h + iy) * c.in_w + ix) * c.in_c + ic)];
                  const int wq = w[static_cast<size_t>(((oc * c.k_h + ky) * c.k_w + kx) * c.in_c + ic)];
                  sum += in_s * (xq - in_q.zero_point) * f_s * (wq - f_q.zero_point);
                }
              }
            acc[i++] = sum;
          }
    // An output quantization that spans most of the values, so that few clamp.
    const auto [min_it, max_it] = std::minmax_element(acc.begin(), acc.end());
    const double span = std::max(*max_it - *min_it, 1e-3);
    Quantization out_q{static_cast<float>(span / real(180, 250)), 0};
    out_q.zero_point = std::clamp(static_cast<int>(std::round(-*min_it / out_q.scale)) + uniform(-10, 10), 0, 255);

    OpFixture f;
    const int32_t in = f.tensor(DType::uint8, {c.batches, c.in_h, c.in_w, c.in_c}, in_q);
    const int32_t filter = f.constant<uint8_t>(DType::uint8, {c.out_c, c.k_h, c.k_w, c.in_c}, w, f_q);
    const int32_t b = f.constant<int32_t>(DType::int32, {c.out_c}, bias, {in_q.scale * f_q.scale, 0});
    const int32_t out = f.tensor(DType::uint8, {c.batches, g.out_h, g.out_w, c.out_c}, out_q);
    f.op(OpKind::conv_2d, {in, filter, b}, {out}, c.o);
    f.set(in, x);
    f.run();
    const std::vector<uint8_t> got = f.get<uint8_t>(out);

    // Activation range, independently: relu6 keeps [zp, zp + 6/scale].
    double lo = 0, hi = 255;
    if (c.o.activation == Activation::relu6) {
      lo = std::max(0.0, static_cast<double>(out_q.zero_point));
      hi = std::min(255.0, out_q.zero_point + std::round(6.0 / out_q.scale));
    }
    for (size_t k = 0; k < acc.size(); ++k) {
      const double expected = std::clamp(std::round(acc[k] / out_q.scale) + out_q.zero_point, lo, hi);
      const double actual = got[k];
      ASSERT_NEAR(actual, expected, 1.0) << "iteration " << iter << ", output element " << k;
      ++checked;
      exact += actual == expected;
      unsaturated += actual > lo && actual < hi;
    }
  }
  // The comparison means something only if most outputs are not clamped.
  EXPECT_GT(checked, 2000u);
  EXPECT_GT(unsaturated, checked * 3 / 4);
  EXPECT_GT(exact, checked * 99 / 100);
}

// The float kernel against double arithmetic on random data.
TEST(Conv2dTest, FloatRandomAgainstDouble) {
  std::mt19937 rng(7);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int iter = 0; iter < 20; ++iter) {
    RandomConv c{1, uniform(2, 8), uniform(2, 8), uniform(1, 6), uniform(1, 6), uniform(1, 3), uniform(1, 3), {}};
    c.o.padding = uniform(0, 1) ? Padding::same : Padding::valid;
    c.o.stride_h = c.o.stride_w = uniform(1, 2);
    c.in_h = std::max(c.in_h, c.k_h);
    c.in_w = std::max(c.in_w, c.k_w);
    const ConvGeometry g = compute_conv_geometry(c.in_h, c.in_w, c.k_h, c.k_w, c.o);
    OpFixture f;
    const int32_t in = f.tensor(DType::float32, {1, c.in_h, c.in_w, c.in_c});
    std::vector<float> w(static_cast<size_t>(c.out_c * c.k_h * c.k_w * c.in_c)), bias(static_cast<size_t>(c.out_c));
    for (auto& v : w) v = value(rng);
    for (auto& v : bias) v = value(rng);
    const int32_t filter = f.constant<float>(DType::float32, {c.out_c, c.k_h, c.k_w, c.in_c}, w);
    const int32_t b = f.constant<float>(DType::float32, {c.out_c}, bias);
    const int32_t out = f.tensor(DType::float32, {1, g.out_h, g.out_w, c.out_c});
    f.op(OpKind::conv_2d, {in, filter, b}, {out}, c.o);
    std::vector<float> x(static_cast<size_t>(c.in_h * c.in_w * c.in_c));
    for (auto& v : x) v = value(rng);
    f.set(in, x);
    f.run();
    const std::vector<float> got = f.get<float>(out);
    for (int oy = 0; oy < g.out_h; ++oy)
      for (int ox = 0; ox < g.out_w; ++ox)
        for (int oc = 0; oc < c.out_c; ++oc) {
          double acc = bias[static_cast<size_t>(oc)];
          for (int ky = 0; ky < c.k_h; ++ky)
            for (int kx = 0; kx < c.k_w; ++kx) {
              const int iy = oy * c.o.stride_h - g.pad_top + ky;
              const int ix = ox * c.o.stride_w - g.pad_left + kx;
              if (iy < 0 || iy >= c.in_h || ix < 0 || ix >= c.in_w) continue;
              for (int ic = 0; ic < c.in_c; ++ic)
                acc += static_cast<double>(x[static_cast<size_t>((iy * c.in_w + ix) * c.in_c + ic)]) *
                       w[static_cast<size_t>(((oc * c.k_h + ky) * c.k_w + kx) * c.in_c + ic)];
            }
          ASSERT_NEAR(got[static_cast<size_t>((oy * g.out_w + ox) * c.out_c + oc)], acc, 1e-4)
              << "iteration " << iter;
        }
  }
}

}  // namespace
}  // namespace lookout::engine
