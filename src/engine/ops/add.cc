// ADD: output = activation(input1 + input2), uint8 and float32.
//
// uint8 follows TFLite's runtime as it runs by default, i.e. its XNNPACK
// delegate: XNNPACK's quint8 ADD (XnnAddRequantization in quantization.h),
// a + b each times an integer multiplier of 2^shift * input/output scale,
// summed with a bias that removes the zero points, shifted right with halves
// rounding up, offset by the output zero point and clamped to the fused
// activation's range as XNNPACK quantizes it. For scales XNNPACK refuses (an
// input/output ratio outside [2^-10, 2^8)) the delegate leaves the op to
// TFLite's builtin kernel, and so does this one: add.cc Prepare and
// reference_ops::Add, where each input is offset by its zero point, shifted
// left by 20 bits of headroom, rescaled to a common scale (twice the larger
// input scale), summed, rescaled to the output scale, offset by the output
// zero point and clamped to the activation range.
//
// Shapes: the same shape for both inputs is what SSD models use. Cheap
// broadcasting is also supported: an input whose shape, leading 1s dropped,
// is a trailing part of the output's shape (a scalar, a [C] vector, a
// [1,1,C] tensor...) repeats along the output. Other broadcasts are refused.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {
namespace {

constexpr size_t kInput1 = 0, kInput2 = 1;
constexpr size_t kOutput = 0;
// TFLite's headroom for 8-bit ADD: (q - zp) fits 9 bits, so after << 20 two
// of them still add up within int32.
constexpr int kLeftShift = 20;

// A scale or multiplier with 9 significant digits, enough to tell floats
// apart (std::to_string would print a tiny one as 0.000000).
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// True when `in` can repeat along `out`: its shape with leading 1s dropped is
// a suffix of out's shape. Then element i of the output reads element
// i % in.elements() of the input.
bool repeats_along(const Tensor& in, const Tensor& out) {
  size_t first = 0;
  while (first < in.shape.size() && in.shape[first] == 1) ++first;
  const size_t kept = in.shape.size() - first;
  if (kept > out.shape.size()) return false;
  return std::equal(in.shape.begin() + static_cast<std::ptrdiff_t>(first), in.shape.end(),
                    out.shape.end() - static_cast<std::ptrdiff_t>(kept));
}

// Tensor ids and how many elements each input has before it repeats.
struct AddShape {
  int32_t input1 = -1, input2 = -1, output = -1;
  size_t count = 0;                 // output elements
  size_t period1 = 0, period2 = 0;  // input elements (== count unless broadcast)
};

// TFLite's builtin uint8 ADD arithmetic, for scales XNNPACK refuses.
struct TfliteAddRequantization {
  int32_t offset1 = 0, offset2 = 0, output_offset = 0;  // -zp of each input, +zp of the output
  QuantizedMultiplier m1, m2, m_out;
  Range32 range{0, 255};

  uint8_t apply(uint8_t a, uint8_t b) const {
    const int32_t shifted1 = (offset1 + a) * (1 << kLeftShift);
    const int32_t shifted2 = (offset2 + b) * (1 << kLeftShift);
    const int32_t scaled1 = multiply_by_quantized_multiplier(shifted1, m1);
    const int32_t scaled2 = multiply_by_quantized_multiplier(shifted2, m2);
    const int32_t raw = multiply_by_quantized_multiplier(scaled1 + scaled2, m_out) + output_offset;
    return static_cast<uint8_t>(std::clamp(raw, range.min, range.max));
  }
};

// XNNPACK's arithmetic when XNNPACK takes the scales (as TFLite's delegate
// and our XNNPACK backend then run the op), TFLite's builtin one otherwise.
struct AddRequantization {
  bool xnnpack = true;
  XnnAddRequantization xnn;       // when xnnpack
  TfliteAddRequantization tflite;  // otherwise

  uint8_t apply(uint8_t a, uint8_t b) const { return xnnpack ? xnn.apply(a, b) : tflite.apply(a, b); }
};

class AddUint8 final : public Kernel {
 public:
  AddUint8(AddShape shape, const AddRequantization& requantization) : s_(shape), r_(requantization) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* in1 = buffers.in<uint8_t>(s_.input1);
    const uint8_t* in2 = buffers.in<uint8_t>(s_.input2);
    uint8_t* out = buffers.out<uint8_t>(s_.output);
    for (size_t i = 0; i < s_.count; ++i) out[i] = r_.apply(in1[i % s_.period1], in2[i % s_.period2]);
  }

 private:
  AddShape s_;
  AddRequantization r_;
};

class AddFloat final : public Kernel {
 public:
  AddFloat(AddShape shape, RangeF range) : s_(shape), range_(range) {}

  void eval(const TensorBuffers& buffers) const override {
    const float* in1 = buffers.in<float>(s_.input1);
    const float* in2 = buffers.in<float>(s_.input2);
    float* out = buffers.out<float>(s_.output);
    for (size_t i = 0; i < s_.count; ++i) {
      const float sum = in1[i % s_.period1] + in2[i % s_.period2];
      out[i] = std::min(std::max(sum, range_.min), range_.max);
    }
  }

 private:
  AddShape s_;
  RangeF range_;
};

// QuantizeMultiplierSmallerThanOneExp: the multiplier must be in (0, 1) and
// its quantized form a right shift. `what` names it and says where it comes from.
QuantizedMultiplier quantize_below_one(const OpContext& ctx, double real, const std::string& what) {
  ctx.require(real > 0.0 && real < 1.0, what + " must be in (0, 1)");
  const QuantizedMultiplier m = quantize_multiplier(real);
  ctx.require(m.shift <= 0, what + " rounds to 1 in fixed point, must stay below 1");
  return m;
}

}  // namespace

std::unique_ptr<Kernel> prepare_add(const OpContext& ctx) {
  ctx.require_inputs(2);
  ctx.require_outputs(1);
  const Tensor& input1 = ctx.input(kInput1);
  const Tensor& input2 = ctx.input(kInput2);
  const Tensor& output = ctx.output(kOutput);

  AddOptions options;
  if (!std::holds_alternative<std::monostate>(ctx.op().options)) {
    const auto* add = std::get_if<AddOptions>(&ctx.op().options);
    ctx.require(add != nullptr, "options must be ADD options");
    options = *add;
  }

  ctx.require(input1.type == DType::uint8 || input1.type == DType::float32,
              describe_tensor("input1", input1) + " must be uint8 or float32");
  ctx.require_type(input2, input1.type);
  ctx.require_type(output, input1.type);

  AddShape shape;
  shape.input1 = ctx.input_index(kInput1);
  shape.input2 = ctx.input_index(kInput2);
  shape.output = ctx.output_index(kOutput);
  shape.count = output.elements();
  shape.period1 = input1.elements();
  shape.period2 = input2.elements();
  const std::string rule =
      ": ADD needs equal shapes, or an input whose shape (leading 1s dropped) ends the output's shape, "
      "such as a scalar or a [C] vector";
  ctx.require(output.shape == input1.shape || output.shape == input2.shape,
              describe_tensor("output", output) + " must have the shape of " + describe_tensor("input1", input1) + " or of " +
                  describe_tensor("input2", input2) + rule);
  ctx.require(repeats_along(input1, output),
              describe_tensor("input1", input1) + " cannot be broadcast to " + describe_tensor("output", output) + rule);
  ctx.require(repeats_along(input2, output),
              describe_tensor("input2", input2) + " cannot be broadcast to " + describe_tensor("output", output) + rule);
  // An empty input broadcast to a non-empty output has nothing to repeat.
  ctx.require(shape.count == 0 || (shape.period1 > 0 && shape.period2 > 0),
              "an empty input cannot be broadcast to " + describe_tensor("output", output));

  if (input1.type == DType::float32) {
    return std::make_unique<AddFloat>(shape, activation_range_float(options.activation));
  }

  ctx.require_quantized(input1);
  ctx.require_quantized(input2);
  ctx.require_quantized(output);
  const float s1 = input1.quant.scale, s2 = input2.quant.scale, s_out = output.quant.scale;
  AddRequantization r;
  r.xnnpack = xnn_add_supported(s1, s2, s_out);
  if (r.xnnpack) {
    const Range32 range = xnn_activation_range_uint8(options.activation, output.quant);
    r.xnn = xnn_add_requantization(input1.quant, input2.quant, output.quant, range);
    return std::make_unique<AddUint8>(shape, r);
  }

  // TFLite's builtin arithmetic. The same mixture of float and double as
  // TFLite's Prepare: 2*max(...) and (1 << 20) * s_out are float products
  // (exact, powers of two), the divisions are double.
  const double twice_max_input_scale = 2 * std::max(s1, s2);
  const double real1 = s1 / twice_max_input_scale;
  const double real2 = s2 / twice_max_input_scale;
  const double real_out = twice_max_input_scale / static_cast<double>((1 << kLeftShift) * s_out);
  // The input multipliers are in (0, 0.5] by construction; the output one
  // reaches 1 only for an absurdly small output scale.
  const std::string twice_max = "2 * max input scale " + num(std::max(s1, s2));
  TfliteAddRequantization& t = r.tflite;
  t.m1 = quantize_below_one(
      ctx, real1, "input1 multiplier " + num(real1) + " = scale of " + describe_tensor("input1", input1) + " / " + twice_max);
  t.m2 = quantize_below_one(
      ctx, real2, "input2 multiplier " + num(real2) + " = scale of " + describe_tensor("input2", input2) + " / " + twice_max);
  t.m_out = quantize_below_one(ctx, real_out,
                               "output multiplier " + num(real_out) + " = " + twice_max + " / (2^20 * scale " +
                                   num(s_out) + " of " + describe_tensor("output", output) + ")");
  t.range = activation_range_uint8(options.activation, output.quant);
  ctx.require(t.range.min <= t.range.max, "fused activation leaves an empty range [" + std::to_string(t.range.min) +
                                              "," + std::to_string(t.range.max) + "] for " +
                                              describe_tensor("output", output));
  t.offset1 = -input1.quant.zero_point;
  t.offset2 = -input2.quant.zero_point;
  t.output_offset = output.quant.zero_point;
  return std::make_unique<AddUint8>(shape, r);
}

}  // namespace lookout::engine
