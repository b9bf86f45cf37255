// Fuzz target: the model reader. Mutated .tflite bytes -> Model::from_bytes
// (flatbuffer verification, graph decoding and checks) -> an Engine on the
// reference backend (every op's prepare) -> a first inference when the
// graph is small enough to run thousands of times a second, then the same on
// the fast backend at every ISA level of our own kernels the CPU has (they
// take the ops they cover, avx2's pointwise in both its forms; their outputs
// must equal the reference's), XNNPACK alone where it has none. A refusal is an
// engine::Error; anything else (a crash, a sanitizer report, another
// exception, an allocation past libFuzzer's limit) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "detect/ssd_outputs.h"
#include "engine/engine.h"

namespace {

using lookout::engine::Graph;
using lookout::engine::OpKind;

// Multiply-accumulates, roughly (depthwise overcounted by its channels):
// the real model's 0.77 GMAC takes seconds on the sanitized reference
// kernels, so only graphs under the budget are run; the rest stop after
// prepare.
double work(const Graph& g) {
  double total = 0;
  for (const auto& op : g.ops) {
    double per_output = 1;
    if ((op.kind == OpKind::conv_2d || op.kind == OpKind::depthwise_conv_2d) && op.inputs.size() > 1 &&
        op.inputs[1] >= 0) {
      const auto& filter = g.tensors.at(static_cast<size_t>(op.inputs[1]));
      if (!filter.shape.empty() && filter.shape[0] > 0)
        per_output = static_cast<double>(filter.elements()) / filter.shape[0];
    }
    for (int32_t out : op.outputs)
      if (out >= 0) total += per_output * static_cast<double>(g.tensors.at(static_cast<size_t>(out)).elements());
  }
  return total;
}

constexpr double kWorkBudget = 2e6;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lookout::engine;
  try {
    const auto model = Model::from_bytes(std::vector<uint8_t>(data, data + size));
    Engine engine(model, Options{Backend::reference, 1});
    if (work(model->graph()) > kWorkBudget) return 0;
    auto input = engine.input();
    for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i * 31 + 7);
    engine.invoke();
    try {
      (void)lookout::detect::read_ssd_outputs(engine);
    } catch (const Error&) {  // a model without the post-process outputs
    }
    std::vector<Isa> levels;
    for (Isa isa : {Isa::avx2, Isa::avxvnni, Isa::avx512vnni})
      if (isa_available(isa)) levels.push_back(isa);
    if (levels.empty()) levels.push_back(best_isa());
    for (Isa isa : levels) {
      Options fast_options{Backend::xnnpack, 1};
      fast_options.isa = isa;
      Engine fast(model, fast_options);
      std::memcpy(fast.input().data(), input.data(), input.size());
      fast.invoke();
      // uint8 graphs agree byte for byte (float32 ones only within rounding).
      for (size_t k = 0; k < model->graph().outputs.size(); ++k) {
        const auto a = engine.output(k), b = fast.output(k);
        if (engine.output_tensor(k).type == DType::uint8 && std::memcmp(a.data(), b.data(), a.size()) != 0)
          std::abort();
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
