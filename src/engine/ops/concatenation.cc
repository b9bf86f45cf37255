// CONCATENATION: inputs joined along one axis (negative counts from the end),
// uint8 and float32.
//
// uint8 follows TFLite's reference_ops::ConcatenationWithScaling: an input
// quantized exactly like the output is copied; any other is requantized with
// TFLite's float expression
//   out = clamp(int32(round(q * scale + bias)) + zp_out, 0, 255),
//   scale = s_in * (1 / s_out), bias = -zp_in * scale   (all float),
// precomputed here as a 256-entry table per input. TFLite's Prepare accepts
// no fused activation at all; we refuse one for uint8 and clamp for float32.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/byte_table.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {
namespace {

constexpr size_t kOutput = 0;  // inputs: 0..n-1, all concatenated in order

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::none: return "NONE";
    case Activation::relu: return "RELU";
    case Activation::relu_n1_to_1: return "RELU_N1_TO_1";
    case Activation::relu6: return "RELU6";
  }
  return "?";
}

// One input's place in the output: for each of the `outer` slices, `chunk`
// contiguous elements of the input follow those of the inputs before it.
struct Part {
  int32_t tensor = -1;
  size_t chunk = 0;  // input dim(axis) * product of the dims after axis
};

struct Layout {
  std::vector<Part> parts;
  int32_t output = -1;
  size_t outer = 1;  // product of the dims before axis
};

class ConcatUint8 final : public Kernel {
 public:
  // tables[i] empty: input i is quantized like the output, copied as is.
  ConcatUint8(Layout layout, std::vector<std::vector<uint8_t>> tables, ByteTableFn apply)
      : layout_(std::move(layout)), tables_(std::move(tables)), apply_(apply) {}

  void eval(const TensorBuffers& buffers) const override {
    uint8_t* out = buffers.out<uint8_t>(layout_.output);
    for (size_t k = 0; k < layout_.outer; ++k) {
      for (size_t i = 0; i < layout_.parts.size(); ++i) {
        const Part& part = layout_.parts[i];
        const uint8_t* in = buffers.in<uint8_t>(part.tensor) + k * part.chunk;
        if (tables_[i].empty()) {
          std::memcpy(out, in, part.chunk);
        } else {
          apply_(std::span<const uint8_t, 256>(tables_[i].data(), 256), in, out, part.chunk);
        }
        out += part.chunk;
      }
    }
  }

 private:
  Layout layout_;
  std::vector<std::vector<uint8_t>> tables_;
  ByteTableFn apply_;
};

class ConcatFloat final : public Kernel {
 public:
  ConcatFloat(Layout layout, Activation activation)
      : layout_(std::move(layout)), clamp_(activation != Activation::none),
        range_(activation_range_float(activation)) {}

  void eval(const TensorBuffers& buffers) const override {
    float* out = buffers.out<float>(layout_.output);
    for (size_t k = 0; k < layout_.outer; ++k) {
      for (const Part& part : layout_.parts) {
        const float* in = buffers.in<float>(part.tensor) + k * part.chunk;
        if (clamp_) {
          for (size_t j = 0; j < part.chunk; ++j) out[j] = std::min(std::max(in[j], range_.min), range_.max);
        } else {
          std::memcpy(out, in, part.chunk * sizeof(float));
        }
        out += part.chunk;
      }
    }
  }

 private:
  Layout layout_;
  bool clamp_;
  RangeF range_;
};

// TFLite's requantization of one uint8 input, as a table over every q.
std::vector<uint8_t> requantize_table(const OpContext& ctx, const std::string& role, const Tensor& in,
                                      const Tensor& out) {
  const float inverse_output_scale = 1.f / out.quant.scale;
  const float scale = in.quant.scale * inverse_output_scale;
  const float bias = static_cast<float>(-in.quant.zero_point) * scale;
  char ratio[64];
  std::snprintf(ratio, sizeof ratio, "%.9g", static_cast<double>(scale));
  ctx.require(std::isfinite(scale) && std::isfinite(bias),
              describe_tensor(role, in) + " scale / " + describe_tensor("output", out) + " scale = " + ratio + " must be finite");
  std::vector<uint8_t> table(256);
  for (int32_t q = 0; q < 256; ++q) {
    // Clamped before the int conversion, which overflows (UB) past int32;
    // the result is clamped to [0, 255] anyway.
    const float rounded = std::clamp(std::round(static_cast<float>(q) * scale + bias), -1e9f, 1e9f);
    const int32_t value = static_cast<int32_t>(rounded) + out.quant.zero_point;
    table[static_cast<size_t>(q)] = static_cast<uint8_t>(std::clamp(value, 0, 255));
  }
  return table;
}

}  // namespace

std::unique_ptr<Kernel> prepare_concatenation(const OpContext& ctx) {
  ctx.require(ctx.num_inputs() >= 1, "expects at least 1 input, has 0");
  ctx.require_outputs(1);
  const auto* options = std::get_if<ConcatenationOptions>(&ctx.op().options);
  ctx.require(options != nullptr, "options must be CONCATENATION options (axis, activation)");
  const Tensor& output = ctx.output(kOutput);
  const auto rank = static_cast<int64_t>(output.shape.size());

  ctx.require(output.type == DType::uint8 || output.type == DType::float32,
              describe_tensor("output", output) + " must be uint8 or float32");
  const int64_t axis = options->axis < 0 ? options->axis + rank : options->axis;
  ctx.require(axis >= 0 && axis < rank, "axis " + std::to_string(options->axis) + " is outside [" +
                                            std::to_string(-rank) + ", " + std::to_string(rank) + ") for " +
                                            describe_tensor("output", output));
  const auto ax = static_cast<size_t>(axis);

  Layout layout;
  layout.output = ctx.output_index(kOutput);
  for (size_t d = 0; d < ax; ++d) layout.outer *= static_cast<size_t>(output.shape[d]);
  size_t inner = 1;
  for (size_t d = ax + 1; d < output.shape.size(); ++d) inner *= static_cast<size_t>(output.shape[d]);

  int64_t axis_sum = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    const std::string role = "input " + std::to_string(i);
    ctx.require_type(in, output.type);
    ctx.require(in.shape.size() == output.shape.size(),
                describe_tensor(role, in) + " must have the rank of " + describe_tensor("output", output));
    for (size_t d = 0; d < in.shape.size(); ++d) {
      ctx.require(d == ax || in.shape[d] == output.shape[d],
                  describe_tensor(role, in) + " dimension " + std::to_string(d) + " is " + std::to_string(in.shape[d]) +
                      ", must equal " + describe_tensor("output", output) + "'s " + std::to_string(output.shape[d]) +
                      " (all dimensions but axis " + std::to_string(axis) + " match)");
    }
    axis_sum += in.shape[ax];
    layout.parts.push_back(Part{ctx.input_index(i), static_cast<size_t>(in.shape[ax]) * inner});
  }
  ctx.require(axis_sum == output.shape[ax],
              describe_tensor("output", output) + " dimension " + std::to_string(axis) + " is " +
                  std::to_string(output.shape[ax]) + ", must be the inputs' sum " + std::to_string(axis_sum));

  if (output.type == DType::float32) return std::make_unique<ConcatFloat>(std::move(layout), options->activation);

  ctx.require(options->activation == Activation::none,
              std::string("fused activation ") + activation_name(options->activation) +
                  " is not supported for uint8 (TFLite's CONCATENATION accepts NONE only)");
  ctx.require_quantized(output);
  std::vector<std::vector<uint8_t>> tables;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    ctx.require_quantized(in);
    const bool same = in.quant.zero_point == output.quant.zero_point && in.quant.scale == output.quant.scale;
    tables.push_back(same ? std::vector<uint8_t>{}
                          : requantize_table(ctx, "input " + std::to_string(i), in, output));
  }
  return std::make_unique<ConcatUint8>(std::move(layout), std::move(tables), byte_table_for(ctx.isa()));
}

}  // namespace lookout::engine
