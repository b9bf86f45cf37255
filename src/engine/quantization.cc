#include "engine/quantization.h"

#include <algorithm>
#include <cmath>
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
