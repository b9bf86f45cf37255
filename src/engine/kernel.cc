#include "engine/kernel.h"

#include <cmath>
#include <stdexcept>

#include "engine/error.h"

namespace lookout::engine {

std::string describe_tensor(const std::string& role, const Tensor& t) {
  return (role.empty() ? "" : role + " ") + "tensor '" + t.name + "' (" + dtype_name(t.type) + " " +
         shape_string(t.shape) + ")";
}

namespace {
std::string describe(const Tensor& t) { return describe_tensor("", t); }
}  // namespace

const Tensor& OpContext::input(size_t i) const {
  if (i >= op_.inputs.size() || op_.inputs[i] < 0) fail("input " + std::to_string(i) + " is missing");
  return graph_.tensors.at(static_cast<size_t>(op_.inputs[i]));
}

const Tensor& OpContext::output(size_t i) const {
  if (i >= op_.outputs.size() || op_.outputs[i] < 0) fail("output " + std::to_string(i) + " is missing");
  return graph_.tensors.at(static_cast<size_t>(op_.outputs[i]));
}

void OpContext::fail(const std::string& rule) const {
  throw Error("op #" + std::to_string(index_) + " " + op_name(op_.kind) + ": " + rule);
}

void OpContext::require_inputs(size_t n) const {
  require(op_.inputs.size() == n,
          "expects " + std::to_string(n) + " inputs, has " + std::to_string(op_.inputs.size()));
}

void OpContext::require_outputs(size_t n) const {
  require(op_.outputs.size() == n,
          "expects " + std::to_string(n) + " outputs, has " + std::to_string(op_.outputs.size()));
}

void OpContext::require_type(const Tensor& t, DType type) const {
  require(t.type == type, describe(t) + " must be " + dtype_name(type));
}

void OpContext::require_rank(const Tensor& t, size_t rank) const {
  require(t.shape.size() == rank, describe(t) + " must have rank " + std::to_string(rank));
}

void OpContext::require_constant(const Tensor& t) const {
  require(t.is_constant(), describe(t) + " must be a constant (weights in the model file)");
}

void OpContext::require_same_shape(const Tensor& a, const Tensor& b) const {
  require(a.shape == b.shape, describe(a) + " and " + describe(b) + " must have the same shape");
}

void OpContext::require_quantized(const Tensor& t) const {
  require(t.type != DType::uint8 || (t.quant.scale > 0.0f && std::isfinite(t.quant.scale) &&
                                     t.quant.zero_point >= 0 && t.quant.zero_point <= 255),
          describe(t) + " needs quantization with scale > 0 and zero point in [0,255], has scale " +
              std::to_string(t.quant.scale) + ", zero point " + std::to_string(t.quant.zero_point));
}

std::unique_ptr<Kernel> prepare_kernel(const Graph& graph, size_t op_index, Isa isa) {
  const Operator& op = graph.ops.at(op_index);
  const OpContext ctx(graph, op, op_index, isa);
  try {
    switch (op.kind) {
      case OpKind::add: return prepare_add(ctx);
      case OpKind::concatenation: return prepare_concatenation(ctx);
      case OpKind::conv_2d: return prepare_conv_2d(ctx);
      case OpKind::depthwise_conv_2d: return prepare_depthwise_conv_2d(ctx);
      case OpKind::logistic: return prepare_logistic(ctx);
      case OpKind::reshape: return prepare_reshape(ctx);
      case OpKind::detection_postprocess: return prepare_detection_postprocess(ctx);
    }
  } catch (const std::domain_error& e) {  // e.g. quantize_multiplier's range check
    ctx.fail(e.what());
  }
  ctx.fail("unknown op kind");
}

}  // namespace lookout::engine
