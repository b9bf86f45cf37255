// The XNNPACK backend's partitioning, exposed so tests can check which ops
// run where. create_xnnpack_runtime() (runtime.h) is the entry point; this
// header only describes its plan.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"

namespace lookout::engine {

// Why the XNNPACK backend leaves op `op_index` to its reference kernel, or
// "" when XNNPACK runs it (CONV_2D, DEPTHWISE_CONV_2D and same-shape ADD,
// uint8 or float32, within XNNPACK's quantization limits). Meant for ops
// that passed their reference prepare_*() checks.
std::string xnnpack_refusal(const Graph& graph, size_t op_index);

// One step of an XNNPACK runtime's invoke(): either one XNNPACK subgraph
// holding several ops, or one op on its reference kernel, or one op on our
// own pointwise (pointwise_conv.h), depthwise (depthwise_conv.h) or ADD
// (own_add.h) kernel, or an inverted-residual block on them fused
// (fused_block.h).
struct XnnpackStage {
  bool xnnpack = false;
  std::vector<size_t> ops;  // op indices, in the order they run
  bool pointwise = false;   // with !xnnpack: the op runs on our pointwise kernel
  bool depthwise = false;   // with !xnnpack: the op runs on our 3x3 depthwise kernel
  bool add = false;         // with !xnnpack: the op runs on our ADD kernel
  bool block = false;       // with !xnnpack: expand, depthwise, project (, ADD) fused
};

// Every op XNNPACK supports joins the earliest XNNPACK stage that comes after
// all of its inputs are produced; every other op gets its own reference stage
// after its producers. For SSD MobileNet this gives one subgraph with the
// whole backbone and all box-predictor convolutions, then the reference
// RESHAPE/CONCATENATION/LOGISTIC/post-process.
//
// At ISA level avx2, avxvnni or avx512vnni, every convolution our pointwise kernel
// takes, every 3x3 depthwise one our depthwise kernel takes and every ADD
// ours takes (refusal "", so never at a level the CPU lacks) gets its own
// stage instead: a MobileNetV2 block becomes pointwise expand -> depthwise
// -> pointwise project -> ADD. Where those ops form a block fused_block_ops
// accepts (its insides read by nothing else), they are one `block` stage
// instead, at the expand's place. With `split`, every XNNPACK op gets a
// subgraph of its own (for per-op profiles); blocks stay fused (timed as
// one step).
std::vector<XnnpackStage> plan_xnnpack_stages(const Graph& graph, Isa isa, bool split = false);

}  // namespace lookout::engine
