// Fast uint8 1x1 convolutions (pointwise: kernel 1x1, stride 1, dilation 1),
// and other convolutions with dilation 1 as pointwise ones on each output
// pixel's gathered window (pointwise_conv.cc), byte-identical to the CONV_2D reference kernel under XNNPACK's fp32
// requantization (Fp32Requantization), at three ISA levels (isa.h):
//
// avx512vnni (pointwise_vnni.cc, zmm) and avxvnni (pointwise_avxvnni.cc,
// ymm, the VEX vpdpbusd): vpdpbusd multiplies unsigned by signed
// bytes, so the filter is packed as s8 = w - 128 and the sums are corrected
// exactly in int32:
//   sum (x - xzp)(w - wzp) + bias
//     = sum x (w - 128)                      vpdpbusd
//     + (128 - wzp) * sum x                  per pixel
//     + bias - xzp * sum (w - wzp)           per output channel, at create
//
// avx2 (pointwise_avx2.cc), with no exact byte product instruction, in one
// of two forms chosen per filter at create:
//   sum (x - xzp)(w - wzp) + bias = sum x (w - wzp)
//                                 + bias - xzp * sum (w - wzp)
// - bytes (most trained filters): vpmaddubsw multiplies unsigned input
//   bytes by signed filter bytes and adds pairs into int16, saturating; two
//   such steps (8 inputs) are added in int16, then vpmaddwd by ones widens
//   them to int32: 3 multiplies per 64 products. Exact where, per output
//   channel and half of each 8-input step, the 4 values |w - wzp| sum to at
//   most 128 (255 x 128 fits int16). Each filter is split into a main part
//   that keeps this and a remainder, taken by fixups: 4-input groups whose
//   pairs sum to at most 128, each by vpmaddubsw + vpmaddwd alone. The form
//   is used when the fixups cost less than the words form would.
// - words (otherwise, e.g. uniformly random filters): the filter packed
//   widened as int16 w - wzp (in [-255, 255]), each tile's input widened to
//   int16, vpmaddwd on pairs: 4 multiplies per 64 products.
// Then all requantize with the same float operations as
// Fp32Requantization::apply.
//
// The NHWC input is a [pixels x in_c] uint8 matrix, the filter [out_c x in_c].
// Lifecycle: create (checks, packs the filter once) -> run (any number of
// times, on any input/output buffers of the shape it was created for).
#pragma once

#include <pthreadpool.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {

namespace pointwise_detail {
struct DotTiles;  // pointwise_tiles.h
}  // namespace pointwise_detail

struct PointwiseShape {
  int64_t pixels = 0;  // batches x height x width
  int32_t in_c = 0, out_c = 0;
};

// The register tiling of one ISA level (and form, at avx2).
struct PointwiseTiling {
  int tile_pixels;     // pixels per register tile
  int block_channels;  // output channels per vector (int32 lanes)
  int group_inputs;    // input channels per lane and instruction
  int chunk_blocks;    // vectors of output channels per register tile
  int element_bytes;   // packed filter element: 1 (int8) or 2 (int16)
  int vector_bytes() const { return block_channels * group_inputs * element_bytes; }
};
PointwiseTiling pointwise_tiling(Isa isa, bool avx2_bytes = false);

class PointwiseConv {
 public:
  // filter: [out_c, in_c] uint8 values with zero point filter_zero_point;
  // bias: out_c int32 values, or nullptr for none. Throws std::domain_error
  // on a non-positive dimension or isa xnnpack, Error when the CPU lacks `isa`.
  PointwiseConv(Isa isa, PointwiseShape shape, const uint8_t* filter, const int32_t* bias, int32_t input_zero_point,
                int32_t filter_zero_point, Fp32Requantization requantization);
  PointwiseConv(const PointwiseConv&) = delete;  // packed_ points into packed_storage_
  PointwiseConv& operator=(const PointwiseConv&) = delete;
  PointwiseConv(PointwiseConv&&) = default;      // a moved vector keeps its buffer
  PointwiseConv& operator=(PointwiseConv&&) = default;

  // output[p][oc] = requantize(sum over ic of (input[p][ic] - xzp) *
  // (filter[oc][ic] - wzp) + bias[oc]). Pixels are split across `threadpool`
  // (nullptr: the calling thread only).
  void run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const;

  // Writes rows [begin, end) of the [pixels x in_c] input matrix.
  using RowGather = std::function<void(int64_t begin, int64_t end)>;
  // run() on the matrix at `rows`, which `gather` fills: each task gathers
  // its own pixels just before multiplying them, while they are in cache;
  // when tasks split output channels (few pixels), all rows come first.
  void run_gathered(const uint8_t* rows, const RowGather& gather, uint8_t* output, pthreadpool_t threadpool) const;

  // Pixels [begin, end) on the calling thread, all output channels: for a
  // caller that splits the work itself (fused_block.h runs row bands). Only
  // those pixels' rows of `input` and `output` are touched.
  void run_pixels(const uint8_t* input, uint8_t* output, int64_t begin, int64_t end) const;

  const PointwiseShape& shape() const { return shape_; }
  // avx2: whether the filter took the bytes form (see the top of this file).
  bool avx2_bytes() const { return avx2_bytes_; }
  // Kernel::form: at avx2 "bytes" or "words", else "".
  std::string form() const { return isa_ != Isa::avx2 ? "" : avx2_bytes_ ? "bytes" : "words"; }
  int64_t fixups() const { return static_cast<int64_t>(fixup_groups_.size()); }

 private:
  struct Range { int64_t pixel_begin, pixel_end; int32_t block_begin, block_end; };
  // One register tile's packed chunk: up to chunk_blocks vectors of channels.
  struct Chunk {
    const int8_t* filter;   // the chunk's packed filter
    const int32_t* column;  // its first channel's column constant
    uint8_t* output;        // pixel `p`, the chunk's first channel
    int32_t channels;       // valid channels in the chunk
    int32_t index;          // the chunk's number (first block / chunk_blocks)
  };
  // Calls tile(chunk, vectors) for each chunk of r's blocks at pixel p.
  // block_begin is a multiple of chunk_blocks and block_end one or blocks_
  // (run() splits so), so every register tile is one whole packed chunk.
  template <class Tile>
  void for_each_chunk(uint8_t* output, int64_t p, const Range& r, Tile&& tile) const {
    const int32_t block = tiling_.block_channels;
    for (int32_t b = r.block_begin; b < r.block_end; b += tiling_.chunk_blocks) {
      const int32_t n = std::min(tiling_.chunk_blocks, r.block_end - b);
      tile(Chunk{packed_ + int64_t{b} * groups_ * tiling_.vector_bytes(), column_.data() + int64_t{b} * block,
                 output + p * shape_.out_c + int64_t{b} * block,
                 static_cast<int32_t>(std::min<int64_t>(int64_t{n} * block, shape_.out_c - int64_t{b} * block)),
                 b / tiling_.chunk_blocks},
           n);
    }
  }
  void run_tasks(const uint8_t* input, const RowGather* gather, uint8_t* output, pthreadpool_t threadpool) const;
  void run_range(const uint8_t* input, uint8_t* output, const Range& r) const;
  // avx512vnni, avxvnni: `tiles` of the level (pointwise_vnni.cc,
  // pointwise_avxvnni.cc) on the pixels' row terms.
  void run_range_dot(const uint8_t* input, uint8_t* output, const Range& r,
                     const pointwise_detail::DotTiles& tiles) const;
  void run_range_avx2(const uint8_t* input, uint8_t* output, const Range& r) const;  // pointwise_avx2.cc
  void run_range_avx2_bytes(const uint8_t* input, uint8_t* output, const Range& r) const;  // pointwise_avx2.cc

  Isa isa_;
  PointwiseTiling tiling_;
  PointwiseShape shape_;
  bool avx2_bytes_ = false;
  int32_t groups_ = 0;  // ceil(in_c / group_inputs); avx2 bytes: rounded up to even (whole 8-input steps)
  int32_t blocks_ = 0;  // ceil(out_c / block_channels)
  int32_t row_factor_ = 0;  // avx512vnni, avxvnni: 128 - filter zero point
  Fp32Requantization requantization_;
  // Packed filter: chunks of up to chunk_blocks blocks; inside a chunk
  // [group][block][block_channels][group_inputs] elements (avx512vnni,
  // avxvnni: int8 w - 128; avx2 words: int16 w - wzp; avx2 bytes: int8, the
  // main part of w - wzp), zeros past in_c/out_c. A chunk starting at block
  // b begins at b * groups_ * vector_bytes.
  std::vector<int8_t> packed_storage_;  // packed_ is its first 64-byte aligned byte
  const int8_t* packed_ = nullptr;
  std::vector<int32_t> column_;  // bias - xzp * sum(w - wzp), per padded channel
  // avx2 bytes: the fixups of block b are [fixup_begin_[b], fixup_begin_[b + 1]);
  // fixup i adds the 4-input group fixup_groups_[i] times its 32 filter bytes
  // at fixup_filter_[32 i] ([block_channels][4]).
  std::vector<int32_t> fixup_begin_, fixup_groups_;
  std::vector<int8_t> fixup_filter_;
};

// Why our pointwise kernel at `isa` does not take op `op_index`, or "" when it
// does: a uint8 CONV_2D with dilation 1 (a filter other than 1x1 or a stride
// gathers windows: up to 16 MiB of them), a
// constant filter, XNNPACK's fp32
// requantization (xnn_conv_supported), `isa` not xnnpack and available on
// this CPU.
std::string pointwise_refusal(const Graph& graph, size_t op_index, Isa isa);

// The op as a Kernel: runs the reference CONV_2D checks (prepare_conv_params),
// then packs. `threadpool` may be nullptr and must outlive the kernel.
std::unique_ptr<Kernel> prepare_pointwise(const OpContext& ctx, Isa isa, pthreadpool_t threadpool);

// Whether op `op_index` (a CONV_2D) is a 1x1 stride 1 convolution: one our
// kernel runs on the input as it is, with no gathered windows.
bool is_pointwise_op(const Graph& graph, size_t op_index);

// The same checks and packing as prepare_pointwise, for a 1x1 stride 1
// convolution (is_pointwise_op), as the bare PointwiseConv (fused_block.h).
PointwiseConv create_pointwise_conv(const OpContext& ctx, Isa isa);

}  // namespace lookout::engine
