// LOGISTIC (sigmoid): y = 1 / (1 + exp(-x)), uint8 and float32.
//
// uint8 follows TFLite's activations.cc (SigmoidPrepare + PopulateLookupTable,
// the reference and generic-optimized kernels): a 256-entry table built in
// float arithmetic, exactly as TFLite builds it, then one lookup per element.
// TFLite requires the uint8 output quantization scale 1/256, zero point 0
// (the range [0, 1) in 256 steps). At level avx512vnni the lookups run 64 at
// a time with AVX-512 VBMI (byte_table.h).
//
// float32 follows reference_ops::Logistic, with its cut-offs: 1 above
// 16.619..., exp(x) below -9.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/byte_table.h"
#include "engine/kernel.h"

namespace lookout::engine {
namespace {

constexpr size_t kInput = 0;
constexpr size_t kOutput = 0;
constexpr float kOutputScale = 1.0f / 256;  // exact in float
constexpr int32_t kOutputZeroPoint = 0;

class LogisticUint8 final : public Kernel {
 public:
  LogisticUint8(int32_t input, int32_t output, size_t count, const std::array<uint8_t, 256>& table,
                ByteTableFn apply)
      : input_(input), output_(output), count_(count), table_(table), apply_(apply) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* in = buffers.in<uint8_t>(input_);
    uint8_t* out = buffers.out<uint8_t>(output_);
    apply_(table_, in, out, count_);
  }

 private:
  int32_t input_, output_;
  size_t count_;
  std::array<uint8_t, 256> table_;
  ByteTableFn apply_;
};

class LogisticFloat final : public Kernel {
 public:
  LogisticFloat(int32_t input, int32_t output, size_t count) : input_(input), output_(output), count_(count) {}

  void eval(const TensorBuffers& buffers) const override {
    // TFLite's reference cut-offs: past them the float result is 1, or
    // exp(x) to float precision.
    constexpr float kCutoffUpper = 16.619047164916992188f;
    constexpr float kCutoffLower = -9.f;
    const float* in = buffers.in<float>(input_);
    float* out = buffers.out<float>(output_);
    for (size_t i = 0; i < count_; ++i) {
      const float x = in[i];
      if (x > kCutoffUpper) {
        out[i] = 1.0f;
      } else if (x < kCutoffLower) {
        out[i] = std::exp(x);
      } else {
        out[i] = 1.f / (1.f + std::exp(-x));
      }
    }
  }

 private:
  int32_t input_, output_;
  size_t count_;
};

// PopulateLookupTable with TFLite's float/int mix: dequantize and the
// sigmoid in float, round(y * (1 / s_out)) in float, + zero point in float,
// then truncate to int32 and clamp to [0, 255].
std::array<uint8_t, 256> sigmoid_table(const Quantization& in, const Quantization& out) {
  const float inverse_scale = 1 / out.scale;
  std::array<uint8_t, 256> table{};
  for (int32_t q = 0; q < 256; ++q) {
    const float dequantized = in.scale * static_cast<float>(q - in.zero_point);
    const float transformed = 1.0f / (1.0f + std::exp(-dequantized));
    const float rescaled = std::round(transformed * inverse_scale);
    const auto quantized = static_cast<int32_t>(rescaled + static_cast<float>(out.zero_point));
    table[static_cast<size_t>(q)] = static_cast<uint8_t>(std::clamp(quantized, 0, 255));
  }
  return table;
}

}  // namespace

std::unique_ptr<Kernel> prepare_logistic(const OpContext& ctx) {
  ctx.require_inputs(1);
  ctx.require_outputs(1);
  const Tensor& input = ctx.input(kInput);
  const Tensor& output = ctx.output(kOutput);
  ctx.require(input.type == DType::uint8 || input.type == DType::float32,
              describe_tensor("input", input) + " must be uint8 or float32");
  ctx.require_type(output, input.type);
  ctx.require_same_shape(input, output);
  const int32_t in_id = ctx.input_index(kInput), out_id = ctx.output_index(kOutput);

  if (input.type == DType::float32) return std::make_unique<LogisticFloat>(in_id, out_id, output.elements());

  ctx.require_quantized(input);
  ctx.require_quantized(output);
  char quant[96];
  std::snprintf(quant, sizeof quant, "scale %.9g, zero point %d", static_cast<double>(output.quant.scale),
                static_cast<int>(output.quant.zero_point));
  ctx.require(output.quant.scale == kOutputScale && output.quant.zero_point == kOutputZeroPoint,
              describe_tensor("output", output) + " has " + quant +
                  ": uint8 LOGISTIC needs scale 1/256 (0.00390625), zero point 0, as TFLite does");
  return std::make_unique<LogisticUint8>(in_id, out_id, output.elements(), sigmoid_table(input.quant, output.quant),
                                         byte_table_for(ctx.isa()));
}

}  // namespace lookout::engine
