#include "engine/engine.h"

#include "engine/ops/conv_common.h"
#include "engine/runtime.h"

namespace lookout::engine {

const char* backend_name(Backend b) { return b == Backend::reference ? "reference" : "xnnpack"; }

Backend parse_backend(const std::string& name) {
  if (name == "reference") return Backend::reference;
  if (name == "xnnpack") return Backend::xnnpack;
  throw Error("unknown backend '" + name + "' (choose reference or xnnpack)");
}

Engine::Engine(std::shared_ptr<const Model> model, Options options) : model_(std::move(model)) {
  if (!model_) throw Error("Engine needs a model");
  if (options.threads < 1) throw Error("threads must be >= 1, got " + std::to_string(options.threads));
  if (model_->graph().inputs.size() != 1)
    throw Error("the model has " + std::to_string(model_->graph().inputs.size()) + " inputs; Lookout expects one image input");
  if (options.backend == Backend::reference) {
    runtime_ = create_reference_runtime(model_->graph(), options.profile);
  } else {
    isa_ = options.isa ? *options.isa : default_isa();
    runtime_ = create_xnnpack_runtime(model_->graph(), options.threads, isa_, options.profile);
  }
}

Engine::~Engine() = default;

const Tensor& Engine::input_tensor() const {
  return model_->graph().tensors[static_cast<size_t>(model_->graph().inputs[0])];
}

std::span<uint8_t> Engine::input() {
  return {runtime_->data(model_->graph().inputs[0]), input_tensor().bytes};
}

void Engine::invoke() { runtime_->invoke(); }

std::span<const uint8_t> Engine::tensor_data(int32_t index) const {
  const auto& tensors = model_->graph().tensors;
  if (index < 0 || static_cast<size_t>(index) >= tensors.size())
    throw Error("no tensor #" + std::to_string(index) + " (the model has " + std::to_string(tensors.size()) + ")");
  if (!runtime_->materialized(index)) return {};
  return {runtime_->data(index), tensors[static_cast<size_t>(index)].bytes};
}

std::vector<OpProfile> Engine::profile() const {
  std::vector<OpProfile> out;
  for (const StepProfile& s : runtime_->profile()) {
    OpProfile p{s.ops, s.kernel, s.ms, s.runs, 0};
    for (size_t i : s.ops) p.macs += op_macs(model_->graph(), i);
    out.push_back(std::move(p));
  }
  return out;
}

int64_t op_macs(const Graph& graph, size_t op_index) {
  const Operator& op = graph.ops.at(op_index);
  if (op.kind != OpKind::conv_2d && op.kind != OpKind::depthwise_conv_2d) return 0;
  if (op.inputs.size() <= kConvFilter || op.outputs.size() <= kConvOutput || op.inputs[kConvFilter] < 0 ||
      op.outputs[kConvOutput] < 0)
    return 0;
  const Tensor& filter = graph.tensors.at(static_cast<size_t>(op.inputs[kConvFilter]));
  const Tensor& output = graph.tensors.at(static_cast<size_t>(op.outputs[kConvOutput]));
  if (filter.shape.size() != 4) return 0;
  // CONV_2D filter [out_c, k_h, k_w, in_c]; DEPTHWISE [1, k_h, k_w, out_c].
  const int64_t per_output = int64_t{filter.dim(1)} * filter.dim(2) * (op.kind == OpKind::conv_2d ? filter.dim(3) : 1);
  return static_cast<int64_t>(output.elements()) * per_output;
}

const Tensor& Engine::output_tensor(size_t position) const {
  const Graph& g = model_->graph();
  if (position >= g.outputs.size())
    throw Error("no graph output #" + std::to_string(position) + " (the model has " + std::to_string(g.outputs.size()) +
                ")");
  return g.tensors[static_cast<size_t>(g.outputs[position])];
}

std::span<const uint8_t> Engine::output(size_t position) const {
  const Tensor& t = output_tensor(position);
  return {runtime_->data(model_->graph().outputs[position]), t.bytes};
}

}  // namespace lookout::engine
