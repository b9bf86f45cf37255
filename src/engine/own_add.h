// Our uint8 ADD of two tensors of one shape, byte-identical to the ADD
// reference kernel under XNNPACK's quint8 arithmetic (XnnAddRequantization):
// the same int32 operations, 8 lanes at a time at ISA levels avx2 and
// avxvnni, 16 (AVX-512 F/BW, which every avx512vnni CPU has) at avx512vnni.
// Lifecycle: prepare_own_add (the reference checks, the constants) -> eval.
#pragma once

#include <pthreadpool.h>

#include <memory>
#include <string>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {

// Why our ADD does not take op `op_index` at `isa`, or "" when it does: a
// uint8 ADD of two inputs of the output's shape (no broadcast), scales
// XNNPACK takes (xnn_add_supported), `isa` one of ours (avx2, avxvnni,
// avx512vnni) and available.
std::string own_add_refusal(const Graph& graph, size_t op_index, Isa isa);

// The op's arithmetic for a caller that splits the work itself
// (fused_block.h): out[i] = the ADD of a[i] and b[i] for i in [begin, end),
// on the calling thread.
class OwnAddRange {
 public:
  // The reference checks (prepare_add) and ours, then the constants.
  OwnAddRange(const OpContext& ctx, Isa isa);
  void run(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t begin, size_t end) const;

 private:
  Isa isa_;
  XnnAddRequantization r_;
};

// The op as a Kernel: runs the reference checks (prepare_add), then keeps
// the constants. `threadpool` may be nullptr and must outlive the kernel.
std::unique_ptr<Kernel> prepare_own_add(const OpContext& ctx, Isa isa, pthreadpool_t threadpool);

}  // namespace lookout::engine
