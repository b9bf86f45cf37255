// What CONV_2D and DEPTHWISE_CONV_2D share: the window geometry (output size
// and explicit padding under TFLite's SAME/VALID rules, tensorflow/lite/
// kernels/padding.h semantics; backends that need TFLite's padding call
// compute_conv_geometry too) and the checks and precomputation both ops'
// prepare runs (prepare_conv_params).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {

// Output size and explicit padding of one 2-D convolution window. TFLite SAME
// padding puts the odd extra row/column at the bottom/right.
struct ConvGeometry {
  int32_t out_h = 0, out_w = 0;
  int32_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

namespace conv_detail {

struct Axis {
  int32_t out = 0, pad_before = 0, pad_after = 0;
};

// One spatial axis. All arithmetic in int64, so hostile int32 values cannot
// overflow; results that do not fit int32 are refused.
inline Axis compute_axis(const char* axis, int64_t in, int64_t k, int64_t stride, int64_t dilation,
                         Padding padding) {
  const std::string name(axis);
  if (in <= 0) throw std::domain_error("input " + name + " " + std::to_string(in) + " must be >= 1");
  if (k <= 0) throw std::domain_error("filter " + name + " " + std::to_string(k) + " must be >= 1");
  if (stride <= 0) throw std::domain_error("stride_" + name + " " + std::to_string(stride) + " must be >= 1");
  if (dilation <= 0)
    throw std::domain_error("dilation_" + name + " " + std::to_string(dilation) + " must be >= 1");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t effective = (k - 1) * dilation + 1;  // < 2^62: no overflow
  if (effective > kMax)
    throw std::domain_error("effective filter " + name + " (" + std::to_string(k) + "-1)*dilation " +
                            std::to_string(dilation) + "+1 = " + std::to_string(effective) + " exceeds 2^31-1");
  if (padding == Padding::valid && in < effective)
    throw std::domain_error("VALID padding needs input " + name + " " + std::to_string(in) +
                            " >= effective filter " + name + " " + std::to_string(effective));
  // SAME: ceil(in / stride); VALID: ceil((in - effective + 1) / stride).
  const int64_t out = padding == Padding::same ? (in + stride - 1) / stride : (in - effective) / stride + 1;
  const int64_t total = std::max<int64_t>((out - 1) * stride + effective - in, 0);  // < effective
  Axis a;
  a.out = static_cast<int32_t>(out);
  a.pad_before = static_cast<int32_t>(total / 2);
  a.pad_after = static_cast<int32_t>(total - total / 2);
  return a;
}

}  // namespace conv_detail

// Throws std::domain_error naming the value and the rule when the geometry is
// impossible: a dimension, stride or dilation below 1, an effective filter
// size past int32, or VALID padding with a filter larger than the input.
// (prepare_kernel turns domain_error into an error that names the op.)
inline ConvGeometry compute_conv_geometry(int32_t in_h, int32_t in_w, int32_t k_h, int32_t k_w,
                                          const ConvOptions& options) {
  const auto h = conv_detail::compute_axis("height", in_h, k_h, options.stride_h, options.dilation_h,
                                           options.padding);
  const auto w = conv_detail::compute_axis("width", in_w, k_w, options.stride_w, options.dilation_w,
                                           options.padding);
  ConvGeometry g;
  g.out_h = h.out;
  g.out_w = w.out;
  g.pad_top = h.pad_before;
  g.pad_bottom = h.pad_after;
  g.pad_left = w.pad_before;
  g.pad_right = w.pad_after;
  return g;
}

// Element count of a shape whose every dimension must be >= 1, refusing
// products past int32 (TFLite's flat sizes are int). Returns 0 when the shape
// breaks either rule, so callers can name the tensor in their message.
inline int64_t checked_elements(const std::vector<int32_t>& shape) {
  int64_t n = 1;
  for (int32_t d : shape) {
    if (d <= 0) return 0;
    n *= d;
    if (n > std::numeric_limits<int32_t>::max()) return 0;
  }
  return n;
}

// Tensor positions shared by CONV_2D and DEPTHWISE_CONV_2D.
constexpr size_t kConvInput = 0, kConvFilter = 1, kConvBias = 2;  // bias optional (absent or -1)
constexpr size_t kConvOutput = 0;

// How a uint8 convolution turns its int32 accumulator into an output byte.
// XNNPACK's fp32 requantization (and its activation clamp) whenever XNNPACK
// takes the op's scales, which is how TFLite's runtime runs it (XNNPACK
// delegate) and how our XNNPACK backend runs it; otherwise (requantization
// scale of 256 or more, a subnormal scale) TFLite's builtin fixed-point
// arithmetic, as TFLite falls back to, and as our XNNPACK backend leaves such
// an op to this kernel.
struct ConvRequantization {
  bool xnnpack = true;
  Fp32Requantization fp32;               // when xnnpack
  FixedPointRequantization fixed_point;  // otherwise
  Range32 range{0, 255};                 // the fused activation's clamp, either way

  uint8_t apply(int32_t acc) const { return xnnpack ? fp32.apply(acc) : fixed_point.apply(acc); }
};

// What both convolution ops check and precompute in prepare: the shapes,
// the window geometry and, for uint8, the requantization.
struct ConvParams {
  ConvOptions options;
  ConvGeometry geometry;
  DType type = DType::float32;
  int32_t batches = 0, in_h = 0, in_w = 0, in_c = 0;
  int32_t k_h = 0, k_w = 0, out_c = 0;
  int32_t input = -1, filter = -1, bias = -1, output = -1;  // tensor ids; bias -1 when absent
  // uint8: real = scale * (q - zero_point), so each offset is -zero_point.
  int32_t input_offset = 0, filter_offset = 0;
  ConvRequantization requantization;  // uint8
  RangeF range_f{0.0f, 0.0f};         // float32: fused activation only
};

namespace conv_detail {

inline std::string describe(const char* role, const Tensor& t) { return describe_tensor(role, t); }

// Every dimension >= 1, element count within int32, and (for constants) the
// data as long as the shape says.
inline void require_sane_shape(const OpContext& ctx, const char* role, const Tensor& t) {
  ctx.require(checked_elements(t.shape) > 0,
              describe(role, t) + " must have every dimension >= 1 and at most 2^31-1 elements");
  const size_t expected = static_cast<size_t>(checked_elements(t.shape)) * dtype_size(t.type);
  ctx.require(!t.is_constant() || t.bytes == expected,
              describe(role, t) + " holds " + std::to_string(t.bytes) + " bytes of data, its shape needs " +
                  std::to_string(expected));
}

}  // namespace conv_detail

// The checks common to CONV_2D (filter [out_c, kh, kw, in_c]) and
// DEPTHWISE_CONV_2D (filter [1, kh, kw, in_c * depth_multiplier]).
inline ConvParams prepare_conv_params(const OpContext& ctx, bool depthwise) {
  using conv_detail::describe;
  ConvParams p;
  ctx.require(ctx.num_inputs() == 2 || ctx.num_inputs() == 3,
              "expects 2 or 3 inputs (input, filter, optional bias), has " + std::to_string(ctx.num_inputs()));
  ctx.require_outputs(1);
  const auto* options = std::get_if<ConvOptions>(&ctx.op().options);
  ctx.require(options != nullptr, "options must be convolution options");
  p.options = *options;

  const Tensor& input = ctx.input(kConvInput);
  const Tensor& filter = ctx.input(kConvFilter);
  const Tensor& output = ctx.output(kConvOutput);
  const bool has_bias = ctx.num_inputs() == 3 && ctx.input_index(kConvBias) >= 0;
  p.input = ctx.input_index(kConvInput);
  p.filter = ctx.input_index(kConvFilter);
  p.output = ctx.output_index(kConvOutput);
  p.bias = has_bias ? ctx.input_index(kConvBias) : -1;

  // Types: uint8 or float32 throughout; bias int32 (uint8) or float32.
  p.type = input.type;
  ctx.require(p.type == DType::uint8 || p.type == DType::float32,
              describe("input", input) + " must be uint8 or float32");
  ctx.require_type(filter, p.type);
  ctx.require_type(output, p.type);
  const DType bias_type = p.type == DType::uint8 ? DType::int32 : DType::float32;

  // Ranks and sizes.
  ctx.require_rank(input, 4);
  ctx.require_rank(filter, 4);
  ctx.require_rank(output, 4);
  conv_detail::require_sane_shape(ctx, "input", input);
  conv_detail::require_sane_shape(ctx, "filter", filter);
  conv_detail::require_sane_shape(ctx, "output", output);
  ctx.require_constant(filter);

  p.batches = input.dim(0);
  p.in_h = input.dim(1);
  p.in_w = input.dim(2);
  p.in_c = input.dim(3);
  p.k_h = filter.dim(1);
  p.k_w = filter.dim(2);
  if (depthwise) {
    ctx.require(p.options.depth_multiplier >= 1,
                "depth_multiplier " + std::to_string(p.options.depth_multiplier) + " must be >= 1");
    ctx.require(filter.dim(0) == 1, describe("filter", filter) + " must have dimension 0 equal to 1, has " +
                                        std::to_string(filter.dim(0)));
    const int64_t expected = int64_t{p.in_c} * p.options.depth_multiplier;
    ctx.require(filter.dim(3) == expected,
                describe("filter", filter) + " has " + std::to_string(filter.dim(3)) +
                    " channels (dimension 3), must be input channels " + std::to_string(p.in_c) +
                    " x depth_multiplier " + std::to_string(p.options.depth_multiplier) + " = " +
                    std::to_string(expected));
    p.out_c = filter.dim(3);
  } else {
    ctx.require(filter.dim(3) == p.in_c,
                describe("filter", filter) + " has " + std::to_string(filter.dim(3)) +
                    " input channels (dimension 3), must equal the input's " + std::to_string(p.in_c) +
                    " (" + describe("input", input) + ")");
    p.out_c = filter.dim(0);
  }

  if (has_bias) {
    const Tensor& bias = ctx.input(kConvBias);
    ctx.require_type(bias, bias_type);
    conv_detail::require_sane_shape(ctx, "bias", bias);
    ctx.require_constant(bias);
    ctx.require(checked_elements(bias.shape) == p.out_c,
                describe("bias", bias) + " has " + std::to_string(checked_elements(bias.shape)) +
                    " elements, must equal the " + std::to_string(p.out_c) + " output channels");
  }

  p.geometry = compute_conv_geometry(p.in_h, p.in_w, p.k_h, p.k_w, p.options);  // throws domain_error
  const std::vector<int32_t> expected{p.batches, p.geometry.out_h, p.geometry.out_w, p.out_c};
  ctx.require(output.shape == expected,
              describe("output", output) + " must have shape " + shape_string(expected) +
                  " (batch, output height, output width, output channels for " +
                  (p.options.padding == Padding::same ? "SAME" : "VALID") + " padding, stride " +
                  std::to_string(p.options.stride_h) + "x" + std::to_string(p.options.stride_w) +
                  ", dilation " + std::to_string(p.options.dilation_h) + "x" +
                  std::to_string(p.options.dilation_w) + ")");

  if (p.type == DType::uint8) {
    ctx.require_quantized(input);
    ctx.require_quantized(filter);
    ctx.require_quantized(output);
    // TFLite also refuses a bias whose scale is off input_scale*filter_scale
    // by more than 2% of the output scale (GetQuantizedConvolutionMultipler);
    // the bias is added as an integer either way, so that is not enforced.
    p.input_offset = -input.quant.zero_point;
    p.filter_offset = -filter.quant.zero_point;
    ConvRequantization& r = p.requantization;
    r.xnnpack = xnn_conv_supported(input.quant.scale, filter.quant.scale, output.quant.scale);
    if (r.xnnpack) {
      r.range = xnn_activation_range_uint8(p.options.activation, output.quant);
      r.fp32 = Fp32Requantization(xnn_conv_scale(input.quant.scale, filter.quant.scale, output.quant.scale),
                                  output.quant.zero_point, r.range);
    } else {
      const double real_multiplier = static_cast<double>(input.quant.scale) *
                                     static_cast<double>(filter.quant.scale) /
                                     static_cast<double>(output.quant.scale);
      r.range = activation_range_uint8(p.options.activation, output.quant);
      // quantize_multiplier throws domain_error when the multiplier is 2^31 or more.
      r.fixed_point = FixedPointRequantization{quantize_multiplier(real_multiplier), output.quant.zero_point, r.range};
    }
    ctx.require(r.range.min <= r.range.max,
                "fused activation leaves an empty range [" + std::to_string(r.range.min) + "," +
                    std::to_string(r.range.max) + "] for " + describe("output", output));
  } else {
    p.range_f = activation_range_float(p.options.activation);
  }
  return p;
}

// Each output channel's sum of |filter + filter_offset| over its row of
// row_length filter values (rows one after the other). The sum is a local:
// were it stored through the vector each step, the compiler would have to
// assume the store may change the uint8 filter bytes, and the loop, which
// every Engine runs over every filter, would not vectorize.
inline std::vector<int64_t> filter_abs_sums(const uint8_t* filter, size_t channels, size_t row_length,
                                            int32_t filter_offset) {
  std::vector<int64_t> sums(channels);
  for (size_t oc = 0; oc < channels; ++oc) {
    const uint8_t* row = filter + oc * row_length;
    int64_t sum = 0;
    for (size_t i = 0; i < row_length; ++i) {
      const int32_t v = int32_t{row[i]} + filter_offset;
      sum += v < 0 ? -v : v;
    }
    sums[oc] = sum;
  }
  return sums;
}

// The int32 accumulator of a uint8 convolution is
//   sum (input + input_offset) * (filter + filter_offset) + bias,
// |input + input_offset| <= max(zp, 255 - zp). Refuses a model whose constant
// filter and bias could overflow it (TFLite would silently wrap), given each
// output channel's sum of |filter + filter_offset|. The message is built
// only for a channel that fails: every Engine checks every channel.
inline void require_accumulator_fits(const OpContext& ctx, const ConvParams& p,
                                     const std::vector<int64_t>& filter_abs_sum, const int32_t* bias) {
  const int64_t max_input = std::max<int64_t>(-p.input_offset, 255 + p.input_offset);
  for (size_t oc = 0; oc < filter_abs_sum.size(); ++oc) {
    const int64_t bias_abs = bias ? std::abs(static_cast<int64_t>(bias[oc])) : 0;
    const int64_t bound = filter_abs_sum[oc] * max_input + bias_abs;
    if (bound > std::numeric_limits<int32_t>::max())
      ctx.fail("output channel " + std::to_string(oc) + " could reach |accumulator| " + std::to_string(bound) +
               " (filter and bias of " + conv_detail::describe("filter", ctx.input(kConvFilter)) +
               "), past the int32 limit 2^31-1");
  }
}

// ConvParams' geometry widened to int64 for the eval loops, so that index
// arithmetic on validated but large shapes cannot overflow.
struct ConvWindow {
  int64_t batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w;
  int64_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;

  explicit ConvWindow(const ConvParams& p)
      : batches(p.batches), in_h(p.in_h), in_w(p.in_w), in_c(p.in_c), out_h(p.geometry.out_h),
        out_w(p.geometry.out_w), out_c(p.out_c), k_h(p.k_h), k_w(p.k_w), stride_h(p.options.stride_h),
        stride_w(p.options.stride_w), dilation_h(p.options.dilation_h), dilation_w(p.options.dilation_w),
        pad_top(p.geometry.pad_top), pad_left(p.geometry.pad_left) {}
};

namespace conv_detail {

// A constant's values, copied out (model data need not be aligned for T).
template <class T>
std::vector<T> copy_constant(const Tensor& t) {
  std::vector<T> v(t.bytes / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), t.constant, v.size() * sizeof(T));
  return v;
}

// The op's bias (T: int32_t for uint8, float for float32), zeros when it has none.
template <class T>
std::vector<T> bias_or_zeros(const OpContext& ctx, const ConvParams& p) {
  return p.bias >= 0 ? copy_constant<T>(ctx.input(kConvBias)) : std::vector<T>(static_cast<size_t>(p.out_c), T{0});
}

}  // namespace conv_detail

// What differs between the uint8 and the float32 kernel of either convolution
// op, so that one loop nest serves both: the element types, one input value
// times one filter value, and how a finished sum (bias added) becomes an
// output value. Each eval makes one as a local, so its constants stay in
// registers in the hot loop.
//
// uint8: the filter is stored with filter_offset already added, the sum is
// int32 and is requantized (clamping to the fused activation's range).
struct Uint8ConvArithmetic {
  using Value = uint8_t;   // input and output
  using Filter = int16_t;  // filter + filter_offset
  using Acc = int32_t;

  int16_t input_offset;
  const ConvRequantization& requantization;

  explicit Uint8ConvArithmetic(const ConvParams& p)
      : input_offset(static_cast<int16_t>(p.input_offset)), requantization(p.requantization) {}

  // Both factors fit int16 ([-255, 255]): a widening multiply-add the
  // compiler vectorizes.
  int32_t product(uint8_t x, int16_t f) const {
    return static_cast<int32_t>(static_cast<int16_t>(x + input_offset)) * f;
  }
  uint8_t finish(int32_t acc) const { return requantization.apply(acc); }
};

// float32: plain products summed in float, clamped to the fused activation's range.
struct FloatConvArithmetic {
  using Value = float;
  using Filter = float;
  using Acc = float;

  RangeF range;

  explicit FloatConvArithmetic(const ConvParams& p) : range(p.range_f) {}

  float product(float x, float f) const { return x * f; }
  float finish(float total) const { return std::min(std::max(total, range.min), range.max); }
};

}  // namespace lookout::engine
