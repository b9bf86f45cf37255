#include "engine/quantization.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

namespace lookout::engine {

QuantizedMultiplier quantize_multiplier(double real_multiplier) {
  // A multiplier of 2^31 or more cannot be applied to an int32 accumulator;
  // only a broken or hostile model asks for one.
  if (!std::isfinite(real_multiplier) || real_multiplier < 0.0 || real_multiplier >= 2147483648.0)
    throw std::domain_error("requantization multiplier " + std::to_string(real_multiplier) +
                            " is outside [0, 2^31)");
  QuantizedMultiplier m;
  if (real_multiplier == 0.0) return m;
  int shift = 0;
  const double q = std::frexp(real_multiplier, &shift);
  auto q_fixed = static_cast<int64_t>(std::round(q * static_cast<double>(1LL << 31)));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) {  // too small to matter: TFLite flushes it to zero
    shift = 0;
    q_fixed = 0;
  }
  m.multiplier = static_cast<int32_t>(q_fixed);
  m.shift = shift;
  return m;
}

int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const auto high = static_cast<int32_t>((ab + nudge) / (1LL << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int64_t mask = (int64_t{1} << exponent) - 1;
  const int64_t remainder = x & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int32_t>((x >> exponent) + (remainder > threshold ? 1 : 0));
}

int32_t multiply_by_quantized_multiplier(int32_t x, QuantizedMultiplier m) {
  const int left_shift = m.shift > 0 ? m.shift : 0;
  const int right_shift = m.shift > 0 ? 0 : -m.shift;
  // TFLite multiplies in int32; shifting the bits of an unsigned copy gives
  // the same two's-complement result without signed-overflow UB.
  const auto shifted = static_cast<int32_t>(static_cast<uint32_t>(x) << left_shift);
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.multiplier), right_shift);
}

Range32 activation_range_uint8(Activation act, Quantization q) {
  constexpr int32_t qmin = 0, qmax = 255;
  auto quantize = [q](float f) {
    const double v = q.zero_point + std::round(static_cast<double>(f) / q.scale);
    return static_cast<int32_t>(std::clamp(v, -1e9, 1e9));
  };
  switch (act) {
    case Activation::none: return {qmin, qmax};
    case Activation::relu: return {std::max(qmin, quantize(0.0f)), qmax};
    case Activation::relu6: return {std::max(qmin, quantize(0.0f)), std::min(qmax, quantize(6.0f))};
    case Activation::relu_n1_to_1: return {std::max(qmin, quantize(-1.0f)), std::min(qmax, quantize(1.0f))};
  }
  return {qmin, qmax};
}

float xnn_conv_scale(float input_scale, float filter_scale, float output_scale) {
  const float product = input_scale * filter_scale;  // rounded to float here,
  return product / output_scale;                     // and again here
}

bool xnn_conv_supported(float input_scale, float filter_scale, float output_scale) {
  return std::isnormal(input_scale) && std::isnormal(filter_scale) && std::isnormal(output_scale) &&
         input_scale > 0.0f && filter_scale > 0.0f && output_scale > 0.0f &&
         xnn_conv_scale(input_scale, filter_scale, output_scale) < kXnnMaxConvScale;
}

bool xnn_add_supported(float input1_scale, float input2_scale, float output_scale) {
  if (!std::isnormal(input1_scale) || !std::isnormal(input2_scale) || !std::isnormal(output_scale) ||
      input1_scale < 0.0f || input2_scale < 0.0f || output_scale < 0.0f)
    return false;
  const float ratio1 = input1_scale / output_scale, ratio2 = input2_scale / output_scale;
  return ratio1 >= kXnnMinAddScaleRatio && ratio1 < kXnnMaxAddScaleRatio && ratio2 >= kXnnMinAddScaleRatio &&
         ratio2 < kXnnMaxAddScaleRatio;
}

Range32 xnn_activation_range_uint8(Activation act, Quantization q) {
  const RangeF real = activation_range_float(act);
  auto quantize = [q](float bound) {
    const float v = bound / q.scale + static_cast<float>(q.zero_point);  // +-inf stays +-inf
    return static_cast<int32_t>(std::lrintf(std::fmin(std::fmax(v, 0.0f), 255.0f)));
  };
  return {quantize(real.min), quantize(real.max)};
}

XnnAddRequantization xnn_add_requantization(Quantization a, Quantization b, Quantization output, Range32 range) {
  if (!xnn_add_supported(a.scale, b.scale, output.scale)) {
    auto num = [](float v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
      return std::string(buf);
    };
    throw std::domain_error("ADD input scales " + num(a.scale) + " and " + num(b.scale) + " over output scale " +
                            num(output.scale) + ": XNNPACK needs normal scales and both ratios in [2^-10, 2^8)");
  }
  const float ratio_a = a.scale / output.scale, ratio_b = b.scale / output.scale;
  // XNNPACK takes the exponent from the float's bits: floor(log2(ratio)),
  // in [-10, 7] here, so shift is in [13, 30].
  const int shift = 20 - std::ilogb(std::max(ratio_a, ratio_b));
  XnnAddRequantization r;
  // ratio * 2^shift is exact (a change of exponent); lrintf rounds it to an
  // integer, ties to even, as XNNPACK does.
  r.a_multiplier = static_cast<int32_t>(std::lrintf(std::ldexp(ratio_a, shift)));
  r.b_multiplier = static_cast<int32_t>(std::lrintf(std::ldexp(ratio_b, shift)));
  r.bias = -(r.a_multiplier * a.zero_point + r.b_multiplier * b.zero_point);
  r.shift = shift;
  r.rounding = int32_t{1} << (shift - 1);
  r.zero_point = output.zero_point;
  r.range = range;
  return r;
}

RangeF activation_range_float(Activation act) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  switch (act) {
    case Activation::none: return {-inf, inf};
    case Activation::relu: return {0.0f, inf};
    case Activation::relu6: return {0.0f, 6.0f};
    case Activation::relu_n1_to_1: return {-1.0f, 1.0f};
  }
  return {-inf, inf};
}

}  // namespace lookout::engine
