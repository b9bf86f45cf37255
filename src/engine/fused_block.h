// MobileNetV2's inverted-residual block (1x1 expand -> 3x3 depthwise -> 1x1
// project, + the residual ADD when there is one) as one step that runs in
// row bands, so that the expanded tensor (up to 150x150x96, 2.2 MB in SSD
// MobileNet V2) never goes out to memory whole: per band of depthwise output
// rows, the expand computes only the input rows the band's taps reach into a
// small scratch buffer, the depthwise reads them there, and the projection
// (then the ADD) writes the band's pixels of the block's output while they
// are in cache.
//
// Every op's arithmetic is per output pixel and runs on the same kernels
// (pointwise_conv.h, depthwise_conv.h, own_add.h) through their
// range/band entry points, so the bytes are those of the unfused stages.
//
// Threads: the depthwise output rows are split into one contiguous range per
// thread (no two threads write the same bytes); within its range, a thread
// keeps the expanded rows the next band shares with the last (the 3x3 halo)
// instead of computing them again.
//
// Lifecycle: fused_block_ops (which ops form a block) -> prepare_fused_block
// (the kernels' checks and packing, the scratch) -> eval.
#pragma once

#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"

namespace lookout::engine {

// The ops of the block whose expand is op `op_index`, in run order (expand,
// depthwise, project, and the ADD when the projection's output is added to
// the block's input), or {} when they do not form one our kernels take at
// `isa`: a 1x1 stride 1 CONV_2D on one image whose output only a 3x3
// depthwise our kernel takes reads, whose output only a 1x1 stride 1 CONV_2D
// reads, neither intermediate a graph output (they are never materialized).
// The projection's output is still written whole (others may read it).
std::vector<size_t> fused_block_ops(const Graph& graph, size_t op_index, Isa isa);

// Scratch bytes per band (expanded rows and depthwise output rows) the band
// height is chosen for: well inside the 1 MB L2 of the CPUs we measure on.
inline constexpr int64_t kFusedBlockBandBytes = int64_t{256} << 10;

// The block `ops` (from fused_block_ops) as a Kernel: each op's reference
// checks and our kernel's packing. `threadpool` may be nullptr and must
// outlive the kernel; bands hold up to `band_bytes` of scratch (at least one
// depthwise output row).
std::unique_ptr<Kernel> prepare_fused_block(const Graph& graph, const std::vector<size_t>& ops, Isa isa,
                                            pthreadpool_t threadpool, int64_t band_bytes = kFusedBlockBandBytes);

}  // namespace lookout::engine
