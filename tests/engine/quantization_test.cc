// The requantization helpers (engine/quantization.h) on values worked out by
// hand: TFLite's fixed-point ones from the gemmlowp/TFLite definitions, the
// XNNPACK ones from XNNPACK's (each XNNPACK expectation below was also
// reproduced with Debian's libXNNPACK 0.0~git20220216.ae108ef itself).
#include "engine/quantization.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace lookout::engine {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
constexpr int32_t kHalf = 1 << 30;  // 0.5 as a Q31 multiplier

TEST(QuantizeMultiplier, PowersOfTwoAreHalfWithAShift) {
  // real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31).
  auto m = quantize_multiplier(0.5);
  EXPECT_EQ(m.multiplier, kHalf);
  EXPECT_EQ(m.shift, 0);
  m = quantize_multiplier(1.0);
  EXPECT_EQ(m.multiplier, kHalf);
  EXPECT_EQ(m.shift, 1);
  m = quantize_multiplier(0.25);
  EXPECT_EQ(m.multiplier, kHalf);
  EXPECT_EQ(m.shift, -1);
  m = quantize_multiplier(std::ldexp(1.0, -20));
  EXPECT_EQ(m.multiplier, kHalf);
  EXPECT_EQ(m.shift, -19);
}

TEST(QuantizeMultiplier, KnownValues) {
  // 0.75 = 0.75 * 2^0: round(0.75 * 2^31) = 1610612736.
  auto m = quantize_multiplier(0.75);
  EXPECT_EQ(m.multiplier, 1610612736);
  EXPECT_EQ(m.shift, 0);
  // 3 = 0.75 * 2^2.
  m = quantize_multiplier(3.0);
  EXPECT_EQ(m.multiplier, 1610612736);
  EXPECT_EQ(m.shift, 2);
  // 0.1 = 0.8 * 2^-3: 0.8 * 2^31 = 1717986918.4 -> 1717986918.
  m = quantize_multiplier(0.1);
  EXPECT_EQ(m.multiplier, 1717986918);
  EXPECT_EQ(m.shift, -3);
}

TEST(QuantizeMultiplier, FractionRoundingUpToOneMovesTheShift) {
  // 1 - 2^-40 = (1 - 2^-40) * 2^0; times 2^31 it rounds to 2^31, which does
  // not fit: TFLite halves it and shifts one more.
  const auto m = quantize_multiplier(1.0 - std::ldexp(1.0, -40));
  EXPECT_EQ(m.multiplier, kHalf);
  EXPECT_EQ(m.shift, 1);
}

TEST(QuantizeMultiplier, ZeroAndTinyAreZero) {
  auto m = quantize_multiplier(0.0);
  EXPECT_EQ(m.multiplier, 0);
  EXPECT_EQ(m.shift, 0);
  // 2^-40 = 0.5 * 2^-39: shift -39 < -31, flushed to zero as TFLite does.
  m = quantize_multiplier(std::ldexp(1.0, -40));
  EXPECT_EQ(m.multiplier, 0);
  EXPECT_EQ(m.shift, 0);
}

TEST(QuantizeMultiplier, RefusesNegativeHugeAndNonFinite) {
  EXPECT_THROW(quantize_multiplier(-0.5), std::domain_error);
  EXPECT_THROW(quantize_multiplier(2147483648.0), std::domain_error);
  EXPECT_THROW(quantize_multiplier(std::nan("")), std::domain_error);
  EXPECT_THROW(quantize_multiplier(std::numeric_limits<double>::infinity()), std::domain_error);
}

TEST(RoundingDivideByPot, TiesGoAwayFromZero) {
  EXPECT_EQ(rounding_divide_by_pot(5, 1), 3);    // 2.5
  EXPECT_EQ(rounding_divide_by_pot(-5, 1), -3);  // -2.5
  EXPECT_EQ(rounding_divide_by_pot(1, 1), 1);    // 0.5
  EXPECT_EQ(rounding_divide_by_pot(-1, 1), -1);  // -0.5
  EXPECT_EQ(rounding_divide_by_pot(12, 3), 2);   // 1.5
  EXPECT_EQ(rounding_divide_by_pot(-12, 3), -2); // -1.5
}

TEST(RoundingDivideByPot, NonTiesRoundToNearest) {
  EXPECT_EQ(rounding_divide_by_pot(3, 2), 1);    // 0.75
  EXPECT_EQ(rounding_divide_by_pot(-3, 2), -1);  // -0.75
  EXPECT_EQ(rounding_divide_by_pot(5, 2), 1);    // 1.25
  EXPECT_EQ(rounding_divide_by_pot(-5, 2), -1);  // -1.25
  EXPECT_EQ(rounding_divide_by_pot(8, 2), 2);
  EXPECT_EQ(rounding_divide_by_pot(-8, 2), -2);
  EXPECT_EQ(rounding_divide_by_pot(7, 0), 7);
  EXPECT_EQ(rounding_divide_by_pot(-7, 0), -7);
  EXPECT_EQ(rounding_divide_by_pot(kMax, 31), 1);   // 0.99999...
  EXPECT_EQ(rounding_divide_by_pot(kMin, 31), -1);  // -1 exactly
}

TEST(SaturatingRoundingDoublingHighMul, OverflowCaseSaturates) {
  // (-2^31) * (-2^31) * 2 / 2^32 = 2^31, which int32 cannot hold.
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMin), kMax);
}

TEST(SaturatingRoundingDoublingHighMul, KnownProducts) {
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kHalf, kHalf), 1 << 29);  // 0.5 * 0.5
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kHalf), -kHalf);    // -1 * 0.5
  // (2^31-1)^2 * 2 / 2^32 = 2^31 - 2 + 2^-31: rounds to 2^31 - 2.
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMax, kMax), kMax - 1);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMax), -kMax);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(0, kMin), 0);
}

TEST(SaturatingRoundingDoublingHighMul, HalvesRoundUp) {
  // gemmlowp's nudge: +0.5 -> 1, 1.5 -> 2, but -0.5 -> 0, -1.5 -> -1
  // (ties toward +infinity).
  EXPECT_EQ(saturating_rounding_doubling_high_mul(1, kHalf), 1);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(3, kHalf), 2);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-1, kHalf), 0);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-3, kHalf), -1);
  // Not a tie: 5 * 0.75 = 3.75 -> 4, -3.75 -> -4.
  EXPECT_EQ(saturating_rounding_doubling_high_mul(5, 1610612736), 4);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-5, 1610612736), -4);
}

TEST(MultiplyByQuantizedMultiplier, RightShift) {
  const auto tenth = quantize_multiplier(0.1);  // 1717986918 * 2^-34
  // 1000 * 1717986918 / 2^31 = 799.99999981 -> 800, then 800 / 8 = 100.
  EXPECT_EQ(multiply_by_quantized_multiplier(1000, tenth), 100);
  EXPECT_EQ(multiply_by_quantized_multiplier(-1000, tenth), -100);
  // 15 * 0.1 = 1.5: 15 * 0.8 = 11.99999999 -> 12, 12 / 8 = 1.5 -> 2.
  EXPECT_EQ(multiply_by_quantized_multiplier(15, tenth), 2);
  // -1.5 -> -12 / 8 = -1.5 -> -2 (away from zero in the shift).
  EXPECT_EQ(multiply_by_quantized_multiplier(-15, tenth), -2);
}

TEST(MultiplyByQuantizedMultiplier, LeftShiftAndIdentity) {
  const auto three = quantize_multiplier(3.0);  // 0.75 * 2^2
  EXPECT_EQ(multiply_by_quantized_multiplier(7, three), 21);
  EXPECT_EQ(multiply_by_quantized_multiplier(-7, three), -21);
  const auto one = quantize_multiplier(1.0);  // 0.5 * 2^1
  EXPECT_EQ(multiply_by_quantized_multiplier(123456, one), 123456);
  EXPECT_EQ(multiply_by_quantized_multiplier(-123456, one), -123456);
  EXPECT_EQ(multiply_by_quantized_multiplier(5, QuantizedMultiplier{}), 0);
}

TEST(MultiplyByQuantizedMultiplier, QuarterRoundsTwice) {
  // 0.25 = 2^30 * 2^-32: doubling high mul by 0.5, then divide by 2.
  const auto quarter = quantize_multiplier(0.25);
  EXPECT_EQ(multiply_by_quantized_multiplier(4, quarter), 1);
  EXPECT_EQ(multiply_by_quantized_multiplier(6, quarter), 2);    // 3 / 2 = 1.5 -> 2
  EXPECT_EQ(multiply_by_quantized_multiplier(-6, quarter), -2);  // -3 / 2 = -1.5 -> -2
  // -3 * 0.25 = -0.75: -1.5 -> -1 in the high mul, then -1 / 2 = -0.5 -> -1.
  EXPECT_EQ(multiply_by_quantized_multiplier(-3, quarter), -1);
}

TEST(ActivationRangeUint8, EachActivation) {
  const Quantization q{0.05f, 10};  // real = 0.05 * (q - 10)
  auto r = activation_range_uint8(Activation::none, q);
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 255);
  r = activation_range_uint8(Activation::relu, q);  // 0 -> 10
  EXPECT_EQ(r.min, 10);
  EXPECT_EQ(r.max, 255);
  r = activation_range_uint8(Activation::relu6, q);  // 6 -> 10 + 120
  EXPECT_EQ(r.min, 10);
  EXPECT_EQ(r.max, 130);
  r = activation_range_uint8(Activation::relu_n1_to_1, q);  // -1 -> -10, 1 -> 30
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 30);
}

TEST(ActivationRangeUint8, ClippedByTheUint8Range) {
  // 6 / 0.01 = 600 is past 255; zero point 200 puts -1 at 100 and 1 at 300.
  auto r = activation_range_uint8(Activation::relu6, Quantization{0.01f, 0});
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 255);
  r = activation_range_uint8(Activation::relu_n1_to_1, Quantization{0.01f, 200});
  EXPECT_EQ(r.min, 100);
  EXPECT_EQ(r.max, 255);
  // The model's ReLU6 outputs: scale 6/255, zero point 0 -> the whole range.
  r = activation_range_uint8(Activation::relu6, Quantization{6.0f / 255.0f, 0});
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 255);
}

TEST(ActivationRangeFloat, EachActivation) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto r = activation_range_float(Activation::none);
  EXPECT_EQ(r.min, -inf);
  EXPECT_EQ(r.max, inf);
  r = activation_range_float(Activation::relu);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, inf);
  r = activation_range_float(Activation::relu6);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 6.0f);
  r = activation_range_float(Activation::relu_n1_to_1);
  EXPECT_EQ(r.min, -1.0f);
  EXPECT_EQ(r.max, 1.0f);
}

// ---------------------------------------------------------------------------
// XNNPACK's arithmetic.

// XNNPACK computes input * filter / output in float, two roundings; in double
// (rounded once to float at the end) these scales give the next float down.
// Conv2dTest.Uint8ScaleIsComputedInFloat shows an output that depends on it.
TEST(XnnConvScale, FloatArithmetic) {
  EXPECT_EQ(xnn_conv_scale(0.01f, 0.02f, 0.03f), 0x1.b4e81cp-8f);
  // The same float scales multiplied and divided in double, rounded once.
  EXPECT_EQ(static_cast<float>(static_cast<double>(0.01f) * 0.02f / 0.03f), 0x1.b4e81ap-8f);
}

TEST(XnnConvSupported, ScaleBelow256AndNormalScales) {
  EXPECT_TRUE(xnn_conv_supported(0.5f, 0.01f, 0.1f));
  EXPECT_TRUE(xnn_conv_supported(16.0f, 0x1.fffffep+3f, 1.0f));  // just below 256
  EXPECT_FALSE(xnn_conv_supported(16.0f, 16.0f, 1.0f));          // 256
  EXPECT_FALSE(xnn_conv_supported(1e-40f, 1.0f, 1.0f));          // subnormal
}

TEST(XnnAddSupported, RatiosIn2PowMinus10To2Pow8) {
  EXPECT_TRUE(xnn_add_supported(0x1.0p-10f, 1.0f, 1.0f));
  EXPECT_FALSE(xnn_add_supported(0x1.fffffep-11f, 1.0f, 1.0f));
  EXPECT_TRUE(xnn_add_supported(1.0f, 0x1.fffffep+7f, 1.0f));
  EXPECT_FALSE(xnn_add_supported(1.0f, 256.0f, 1.0f));
  EXPECT_FALSE(xnn_add_supported(1.0f, 1.0f, 1e-40f));  // subnormal output scale
}

TEST(XnnActivationRangeUint8, EachActivation) {
  const Quantization q{0.05f, 10};
  auto r = xnn_activation_range_uint8(Activation::none, q);  // -inf, +inf -> 0, 255
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 255);
  r = xnn_activation_range_uint8(Activation::relu, q);  // 0 -> 10
  EXPECT_EQ(r.min, 10);
  EXPECT_EQ(r.max, 255);
  r = xnn_activation_range_uint8(Activation::relu6, q);  // 6 / 0.05f + 10 = 129.99999 -> 130
  EXPECT_EQ(r.min, 10);
  EXPECT_EQ(r.max, 130);
  r = xnn_activation_range_uint8(Activation::relu_n1_to_1, q);  // -20 + 10 -> 0, 20 + 10 = 30
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 30);
  // The model's ReLU6 outputs: scale 6/255, zero point 0 -> the whole range.
  r = xnn_activation_range_uint8(Activation::relu6, Quantization{6.0f / 255.0f, 0});
  EXPECT_EQ(r.min, 0);
  EXPECT_EQ(r.max, 255);
}

// Where bound / scale + zero point is an exact half, XNNPACK rounds it to
// even and TFLite's builtin range rounds it away from zero.
TEST(XnnActivationRangeUint8, HalvesGoToEvenUnlikeTflite) {
  // ReLU6, scale 4, zero point 1: 6 / 4 + 1 = 2.5 -> 2; TFLite 1 + round(1.5) = 3.
  Range32 r = xnn_activation_range_uint8(Activation::relu6, Quantization{4.0f, 1});
  EXPECT_EQ(r.min, 1);
  EXPECT_EQ(r.max, 2);
  r = activation_range_uint8(Activation::relu6, Quantization{4.0f, 1});
  EXPECT_EQ(r.max, 3);
  // ReLU_N1_TO_1, scale 2, zero point 100: 99.5 -> 100 and 100.5 -> 100;
  // TFLite 100 + round(-0.5) = 99 and 100 + round(0.5) = 101.
  r = xnn_activation_range_uint8(Activation::relu_n1_to_1, Quantization{2.0f, 100});
  EXPECT_EQ(r.min, 100);
  EXPECT_EQ(r.max, 100);
  r = activation_range_uint8(Activation::relu_n1_to_1, Quantization{2.0f, 100});
  EXPECT_EQ(r.min, 99);
  EXPECT_EQ(r.max, 101);
}

// Scale 0.5, zero point 100: acc * 0.5 = +-0.5, +-1.5, +-2.5 round to the
// even neighbour: 0, 2, 2 (std::round would give 1, 2, 3).
TEST(Fp32Requantization, HalvesRoundToEven) {
  const Fp32Requantization r(0.5f, 100, {0, 255});
  EXPECT_EQ(r.apply(1), 100);
  EXPECT_EQ(r.apply(3), 102);
  EXPECT_EQ(r.apply(5), 102);
  EXPECT_EQ(r.apply(-1), 100);
  EXPECT_EQ(r.apply(-3), 98);
  EXPECT_EQ(r.apply(-5), 98);
  EXPECT_EQ(r.apply(7), 104);   // 3.5 -> 4
  EXPECT_EQ(r.apply(2), 101);   // 1 exactly
  EXPECT_EQ(r.apply(0), 100);
}

// The accumulator becomes a float first: 2^24 + 1 is not a float and rounds
// to 2^24, so times 2^-25 it is 0.5 exactly, which rounds to 0 (the exact
// product 0.50000003 would round to 1).
TEST(Fp32Requantization, AccumulatorRoundsToFloatFirst) {
  const Fp32Requantization r(0x1.0p-25f, 0, {0, 255});
  EXPECT_EQ(r.apply(16777217), 0);
  EXPECT_EQ(r.apply(16777216 + 4), 1);  // a float: 0.50000012 -> 1
}

// The clamp happens in float before rounding: accumulators whose product is
// far outside int32 still saturate at the right end, and the activation
// range bounds the result.
TEST(Fp32Requantization, SaturatesAndClamps) {
  const Fp32Requantization full(255.0f, 0, {0, 255});
  EXPECT_EQ(full.apply(std::numeric_limits<int32_t>::max()), 255);
  EXPECT_EQ(full.apply(std::numeric_limits<int32_t>::min()), 0);
  const Fp32Requantization clamped(1.0f, 128, {10, 200});
  EXPECT_EQ(clamped.apply(-1000), 10);
  EXPECT_EQ(clamped.apply(-118), 10);
  EXPECT_EQ(clamped.apply(-117), 11);
  EXPECT_EQ(clamped.apply(72), 200);
  EXPECT_EQ(clamped.apply(73), 200);
  EXPECT_EQ(clamped.apply(1000), 200);
}

// Inputs scale 0.5 zero point 10 and scale 0.25 zero point 100, output scale
// 1 zero point 5: ratios 0.5 and 0.25, the larger 2^-1, so shift = 20 + 1;
// multipliers 0.5 * 2^21 = 2^20 and 2^19; bias = -(2^20 * 10 + 2^19 * 100).
TEST(XnnAddRequantization, PowerOfTwoRatios) {
  const XnnAddRequantization r =
      xnn_add_requantization(Quantization{0.5f, 10}, Quantization{0.25f, 100}, Quantization{1.0f, 5}, {0, 255});
  EXPECT_EQ(r.shift, 21);
  EXPECT_EQ(r.a_multiplier, 1 << 20);
  EXPECT_EQ(r.b_multiplier, 1 << 19);
  EXPECT_EQ(r.bias, -((1 << 20) * 10 + (1 << 19) * 100));
  EXPECT_EQ(r.rounding, 1 << 20);
  EXPECT_EQ(r.zero_point, 5);
}

// Ratio 0.3f = 0.30000001192...: floor(log2) = -2, so shift = 22, and
// 0.3f * 2^22 = 1258291.25 rounds to 1258291.
TEST(XnnAddRequantization, MultiplierRoundedToAnInteger) {
  const XnnAddRequantization r =
      xnn_add_requantization(Quantization{0.3f, 0}, Quantization{0.3f, 0}, Quantization{1.0f, 0}, {0, 255});
  EXPECT_EQ(r.shift, 22);
  EXPECT_EQ(r.a_multiplier, 1258291);
  EXPECT_EQ(r.b_multiplier, 1258291);
  EXPECT_EQ(r.bias, 0);
  // 5 * 0.3f = 1.50000006 in real terms, but 5 * 1258291 = 6291455 is just
  // below 1.5 * 2^22 = 6291456: (6291455 + 2^21) >> 22 = 1.
  EXPECT_EQ(r.apply(5, 0), 1);
  EXPECT_EQ(r.apply(5, 5), 3);   // 12582910 / 2^22 = 2.9999995 -> 3
  EXPECT_EQ(r.apply(10, 0), 3);
}

// (acc + 2^(shift-1)) >> shift rounds halves up, toward +infinity. With the
// PowerOfTwoRatios parameters, a - 10 = +-1 or +-3 gives +-0.5 or +-1.5:
// 0.5 -> 1, -0.5 -> 0, -1.5 -> -1, 1.5 -> 2 (TFLite's builtin ADD rounds
// these away from zero: 1, -1, -2, 2).
TEST(XnnAddRequantization, HalvesRoundUp) {
  const XnnAddRequantization r =
      xnn_add_requantization(Quantization{0.5f, 10}, Quantization{0.25f, 100}, Quantization{1.0f, 5}, {0, 255});
  EXPECT_EQ(r.apply(11, 100), 6);
  EXPECT_EQ(r.apply(9, 100), 5);
  EXPECT_EQ(r.apply(7, 100), 4);
  EXPECT_EQ(r.apply(13, 100), 7);
  EXPECT_EQ(r.apply(10, 102), 6);  // b: 2 * 0.25 = 0.5 -> 1
  EXPECT_EQ(r.apply(10, 98), 5);   // -0.5 -> 0
}

// All scales 1 and zero points 128: out = (a - 128) + (b - 128) + 128,
// clamped to [20, 80].
TEST(XnnAddRequantization, ClampsToTheRange) {
  const XnnAddRequantization r =
      xnn_add_requantization(Quantization{1.0f, 128}, Quantization{1.0f, 128}, Quantization{1.0f, 128}, {20, 80});
  EXPECT_EQ(r.apply(255, 255), 80);  // 382
  EXPECT_EQ(r.apply(0, 0), 20);      // -128
  EXPECT_EQ(r.apply(50, 100), 22);   // -78 - 28 + 128
  EXPECT_EQ(r.apply(128, 80), 80);   // 0 - 48 + 128
  EXPECT_EQ(r.apply(128, 75), 75);
}

TEST(XnnAddRequantization, RefusesRatiosXnnpackRefuses) {
  EXPECT_THROW(
      xnn_add_requantization(Quantization{256.0f, 0}, Quantization{1.0f, 0}, Quantization{1.0f, 0}, {0, 255}),
      std::domain_error);
  EXPECT_THROW(
      xnn_add_requantization(Quantization{1.0f, 0}, Quantization{1.0f, 0}, Quantization{2048.0f, 0}, {0, 255}),
      std::domain_error);
}

}  // namespace
}  // namespace lookout::engine
