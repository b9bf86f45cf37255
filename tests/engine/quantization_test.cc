// TFLite's fixed-point helpers (engine/quantization.h) on values worked out
// by hand from the gemmlowp/TFLite definitions.
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

}  // namespace
}  // namespace lookout::engine
