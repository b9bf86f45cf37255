#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/runtime.h"

namespace lookout::engine {

namespace {
// Output positions of TFLite_Detection_PostProcess, as graph outputs.
constexpr size_t kOutputBoxes = 0;
constexpr size_t kOutputClasses = 1;
constexpr size_t kOutputScores = 2;
constexpr size_t kOutputCount = 3;
}  // namespace

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
  runtime_ = options.backend == Backend::reference ? create_reference_runtime(model_->graph())
                                                   : create_xnnpack_runtime(model_->graph(), options.threads);
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

Detections Engine::detections() const {
  const Graph& g = model_->graph();
  auto output = [&](size_t i) -> const Tensor& {
    if (g.outputs.size() < 4) throw Error("the model has no detection outputs (expected 4 graph outputs)");
    const Tensor& t = g.tensors[static_cast<size_t>(g.outputs[i])];
    if (t.type != DType::float32) throw Error("detection output '" + t.name + "' is not float32");
    return t;
  };
  const Tensor& boxes = output(kOutputBoxes);
  const Tensor& classes = output(kOutputClasses);
  const Tensor& scores = output(kOutputScores);
  const Tensor& count = output(kOutputCount);
  const size_t capacity = classes.elements();
  if (boxes.elements() != capacity * 4 || scores.elements() != capacity || count.elements() != 1)
    throw Error("detection outputs have inconsistent sizes");

  auto floats = [&](size_t i) { return reinterpret_cast<const float*>(runtime_->data(g.outputs[i])); };
  // A hostile model can put any float here: clamp before converting (a
  // float outside int's range converted to int is undefined behaviour).
  auto to_int = [](float v, int lo, int hi) {
    return std::isfinite(v) ? static_cast<int>(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi))) : lo;
  };
  Detections d;
  d.count = to_int(floats(kOutputCount)[0], 0, static_cast<int>(std::min<size_t>(capacity, 1 << 20)));
  const float* b = floats(kOutputBoxes);
  for (int i = 0; i < d.count; ++i) {
    d.boxes.push_back({b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]});
    d.classes.push_back(to_int(floats(kOutputClasses)[i], -1, 1 << 20));
    d.scores.push_back(floats(kOutputScores)[i]);
  }
  return d;
}

}  // namespace lookout::engine
