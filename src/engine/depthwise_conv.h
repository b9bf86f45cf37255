// A fast uint8 3x3 depthwise convolution (depth multiplier 1, dilation 1,
// any stride and padding) with AVX2, byte-identical to the DEPTHWISE_CONV_2D
// reference kernel under XNNPACK's fp32 requantization. It runs at both ISA
// levels (an AVX-512 VNNI CPU has AVX2).
//
// Each output pixel reads its 9 input pixels through pointers; a tap in the
// padding points at a row of input zero points, so that
//   sum (x - xzp)(w - wzp) + bias = sum x (w - wzp) + bias - xzp * sum (w - wzp)
// holds on the border as inside. The taps go in pairs through vpmaddwd: the
// two taps' bytes interleaved and widened to int16, against (w - wzp) of both
// taps packed as int16 pairs once at load (the ninth tap is paired with a
// zero weight). Then the same float requantization as
// Fp32Requantization::apply.
#pragma once

#include <pthreadpool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/isa.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {

struct DepthwiseShape {
  int32_t batches = 0, in_h = 0, in_w = 0, channels = 0;
  int32_t out_h = 0, out_w = 0;
  int32_t stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
};

class DepthwiseConv3x3 {
 public:
  static constexpr int kTaps = 9;
  static constexpr int kPairs = 5;           // (0,1) (2,3) (4,5) (6,7) (8,zero)
  static constexpr int kBlockChannels = 16;  // channels per step: two ymm of int32

  // filter: [3, 3, channels] uint8 with zero point filter_zero_point; bias:
  // `channels` int32 values or nullptr. Throws std::domain_error on a bad
  // shape, Error when the CPU lacks AVX2.
  DepthwiseConv3x3(DepthwiseShape shape, const uint8_t* filter, const int32_t* bias, int32_t input_zero_point,
                   int32_t filter_zero_point, Fp32Requantization requantization);

  // Output rows are split across `threadpool` (nullptr: the calling thread).
  void run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const;

  // Output rows [row_begin, row_end) of batch 0 on the calling thread, for a
  // caller that holds only a band of the input (fused_block.h): `input`
  // starts at input row `input_row` and holds every row the output rows'
  // taps reach inside the image (input_rows()); `output` starts at output
  // row row_begin.
  void run_band(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t row_begin, int64_t row_end) const;

  // The input rows [first, last) that output rows [row_begin, row_end) of
  // one image read, clipped to the image (taps in the padding read none).
  struct RowSpan { int64_t first, last; };
  RowSpan input_rows(int64_t row_begin, int64_t row_end) const;

  const DepthwiseShape& shape() const { return shape_; }

 private:
  // Rows are batch * out_h + oy; `input` points at input row `input_row` of
  // batch 0, `output` at output row `output_row`.
  void run_rows(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row, int64_t row_begin,
                int64_t row_end) const;

  DepthwiseShape shape_;
  int32_t blocks_ = 0;  // ceil(channels / 16)
  Fp32Requantization requantization_;
  // Per block, per pair, two vectors (channels 0-7, 8-15 of the block) of 8
  // int16 pairs (w_a - wzp, w_b - wzp): blocks_ * kPairs * 64 bytes.
  std::vector<int16_t> packed_;
  std::vector<int32_t> column_;   // bias - xzp * sum (w - wzp), per padded channel
  std::vector<uint8_t> padding_;  // channels + 16 input zero points
};

// Why our depthwise kernel does not take op `op_index` at `isa`, or "" when
// it does: a uint8 DEPTHWISE_CONV_2D, 3x3 constant filter, depth multiplier
// 1, dilation 1, XNNPACK's fp32 requantization, `isa` one of ours (avx2,
// avxvnni, avx512vnni: the same AVX2 kernel at each) and available here.
std::string depthwise_refusal(const Graph& graph, size_t op_index, Isa isa);

// The op as a Kernel: runs the reference checks (prepare_conv_params), then
// packs. `threadpool` may be nullptr and must outlive the kernel.
std::unique_ptr<Kernel> prepare_depthwise(const OpContext& ctx, Isa isa, pthreadpool_t threadpool);

// The same checks and packing, as the bare DepthwiseConv3x3 (fused_block.h).
DepthwiseConv3x3 create_depthwise_conv(const OpContext& ctx, Isa isa);

}  // namespace lookout::engine
