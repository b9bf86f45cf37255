#include "engine/own_conv.h"

#include <variant>

#include "engine/ops/conv_common.h"

namespace lookout::engine {

const Tensor* tensor_at(const Graph& graph, const std::vector<int32_t>& ids, size_t pos) {
  if (pos >= ids.size() || ids[pos] < 0 || static_cast<size_t>(ids[pos]) >= graph.tensors.size()) return nullptr;
  return &graph.tensors[static_cast<size_t>(ids[pos])];
}

std::string own_conv_refusal(const Graph& graph, size_t op_index, OpKind kind) {
  const Operator& op = graph.ops.at(op_index);
  if (op.kind != kind) return std::string("not a ") + op_name(kind);
  const auto* options = std::get_if<ConvOptions>(&op.options);
  if (options == nullptr) return "no convolution options";
  const Tensor* input = tensor_at(graph, op.inputs, kConvInput);
  const Tensor* filter = tensor_at(graph, op.inputs, kConvFilter);
  const Tensor* output = tensor_at(graph, op.outputs, kConvOutput);
  if (input == nullptr || filter == nullptr || output == nullptr) return "missing input, filter or output";
  if (input->type != DType::uint8) return "not uint8";
  if (options->dilation_h != 1 || options->dilation_w != 1) return "dilation is not 1";
  if (!xnn_conv_supported(input->quant.scale, filter->quant.scale, output->quant.scale))
    return "requantization is not XNNPACK's fp32 scheme";
  return "";
}

std::string own_isa_refusal(Isa isa) {
  if (isa == Isa::xnnpack) return "ISA level xnnpack runs none of our kernels";
  if (!isa_available(isa)) return std::string("the CPU lacks ") + isa_name(isa);
  return "";
}

}  // namespace lookout::engine
