// RESHAPE: the same bytes under another shape. The output tensor's shape is
// the one to produce (the model reader resolved it from the optional
// "new_shape" input or ReshapeOptions); prepare checks that the element
// counts, the types and, for uint8, the quantizations agree, as TFLite does.
// eval copies the bytes (nothing to do when the runtime aliases the buffers).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/kernel.h"

namespace lookout::engine {
namespace {

constexpr size_t kInput = 0, kShape = 1;  // kShape: optional int32 [rank] "new_shape"
constexpr size_t kOutput = 0;

std::string quant_str(const Quantization& q) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "scale %.9g, zero point %d", static_cast<double>(q.scale),
                static_cast<int>(q.zero_point));
  return buf;
}

class Reshape final : public Kernel {
 public:
  Reshape(int32_t input, int32_t output, size_t bytes) : input_(input), output_(output), bytes_(bytes) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* in = buffers.in<uint8_t>(input_);
    uint8_t* out = buffers.out<uint8_t>(output_);
    if (in != out) std::memcpy(out, in, bytes_);
  }

 private:
  int32_t input_, output_;
  size_t bytes_;
};

// A constant new_shape must agree with the resolved output shape: the same
// rank, each entry equal to the output's dimension or -1 (inferred). Shapes
// TFLite reads differently (not a rank-1 int32 vector of the output's rank,
// e.g. the legacy [0] for a scalar) are left to the output tensor.
void check_new_shape(const OpContext& ctx, const Tensor& shape, const Tensor& output) {
  if (!shape.is_constant() || shape.type != DType::int32 || shape.shape.size() != 1 ||
      shape.elements() != output.shape.size() || shape.bytes != output.shape.size() * sizeof(int32_t))
    return;
  for (size_t i = 0; i < output.shape.size(); ++i) {
    int32_t d = 0;
    std::memcpy(&d, shape.constant + i * sizeof(int32_t), sizeof d);  // constants need not be aligned
    ctx.require(d == -1 || d == output.shape[i],
                describe_tensor("new_shape", shape) + " entry " + std::to_string(i) + " is " + std::to_string(d) +
                    ", disagrees with " + describe_tensor("output", output) + " dimension " + std::to_string(i) + " = " +
                    std::to_string(output.shape[i]));
  }
}

}  // namespace

std::unique_ptr<Kernel> prepare_reshape(const OpContext& ctx) {
  ctx.require(ctx.num_inputs() == 1 || ctx.num_inputs() == 2,
              "expects 1 or 2 inputs (input, optional new_shape), has " + std::to_string(ctx.num_inputs()));
  ctx.require_outputs(1);
  const Tensor& input = ctx.input(kInput);
  const Tensor& output = ctx.output(kOutput);
  if (ctx.num_inputs() == 2 && ctx.input_index(kShape) >= 0) check_new_shape(ctx, ctx.input(kShape), output);

  ctx.require(input.type == output.type,
              describe_tensor("output", output) + " must have the type of " + describe_tensor("input", input));
  ctx.require(input.elements() == output.elements(),
              describe_tensor("input", input) + " has " + std::to_string(input.elements()) + " elements, " +
                  describe_tensor("output", output) + " has " + std::to_string(output.elements()) +
                  ": RESHAPE must keep the element count");
  ctx.require(input.bytes == output.bytes, describe_tensor("input", input) + " holds " + std::to_string(input.bytes) +
                                               " bytes, " + describe_tensor("output", output) + " holds " +
                                               std::to_string(output.bytes));
  if (input.type == DType::uint8) {
    ctx.require_quantized(input);
    ctx.require_quantized(output);
    ctx.require(input.quant.scale == output.quant.scale && input.quant.zero_point == output.quant.zero_point,
                describe_tensor("input", input) + " has " + quant_str(input.quant) + ", " + describe_tensor("output", output) +
                    " has " + quant_str(output.quant) + ": RESHAPE cannot requantize, they must be equal");
  }
  return std::make_unique<Reshape>(ctx.input_index(kInput), ctx.output_index(kOutput), output.bytes);
}

}  // namespace lookout::engine
