#include "engine/runtime.h"

#include "engine/error.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace lookout::engine {

namespace {

constexpr size_t kAlignment = 64;  // cache line; XNNPACK and SIMD loads like it

size_t align_up(size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// XNNPACK may read up to 16 bytes (XNN_EXTRA_BYTES) past the end of an
// input; buffers are padded to kAlignment, and this tail covers the last one.
constexpr size_t kTailSlack = kAlignment;

size_t arena_size(const Graph& graph) {
  size_t total = kTailSlack;
  for (const Tensor& t : graph.tensors)
    if (!t.is_constant()) total += align_up(t.bytes);
  return total;
}

void free_arena(uint8_t* p) { ::operator delete[](p, std::align_val_t{kAlignment}); }

// Activations of a real detection model take a few MiB; a (hostile) file
// declaring tensors that need more than this is refused, not allocated.
constexpr size_t kMaxArenaBytes = size_t{1} << 30;

uint8_t* new_arena(size_t bytes) {
  if (bytes > kMaxArenaBytes)
    throw Error("the model's tensors need " + std::to_string(bytes >> 20) + " MiB of working memory, above the " +
                std::to_string(kMaxArenaBytes >> 20) + " MiB limit: not a model this engine runs");
  // Zeroed, so a tensor no op writes (only possible in a malformed graph the
  // reader refuses) still reads as defined memory.
  auto* p = static_cast<uint8_t*>(::operator new[](bytes == 0 ? 1 : bytes, std::align_val_t{kAlignment}));
  std::fill(p, p + bytes, uint8_t{0});
  return p;
}

}  // namespace

Runtime::Runtime(const Graph& graph, bool profiling)
    : profiling_(profiling), graph_(graph), arena_(new_arena(arena_size(graph)), free_arena), buffers_(graph.tensors.size()) {
  size_t offset = 0;
  for (size_t i = 0; i < graph.tensors.size(); ++i) {
    const Tensor& t = graph.tensors[i];
    if (t.is_constant()) {
      buffers_.set(static_cast<int32_t>(i), const_cast<uint8_t*>(t.constant));  // never written: kernels take constants as inputs only
    } else {
      buffers_.set(static_cast<int32_t>(i), arena_.get() + offset);
      offset += align_up(t.bytes);
    }
  }
}

namespace {

class ReferenceRuntime final : public Runtime {
 public:
  ReferenceRuntime(const Graph& graph, bool profiling) : Runtime(graph, profiling) {
    for (size_t i = 0; i < graph.ops.size(); ++i) {
      kernels_.push_back(prepare_kernel(graph, i));
      add_profile_step({i}, "reference");
    }
  }
  void invoke() override {
    for (size_t i = 0; i < kernels_.size(); ++i) run_step(i, [&] { kernels_[i]->eval(buffers()); });
  }

 private:
  std::vector<std::unique_ptr<Kernel>> kernels_;
};

}  // namespace

std::unique_ptr<Runtime> create_reference_runtime(const Graph& graph, bool profiling) {
  return std::make_unique<ReferenceRuntime>(graph, profiling);
}

}  // namespace lookout::engine
