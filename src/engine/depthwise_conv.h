// A fast uint8 3x3 depthwise convolution (depth multiplier 1, dilation 1,
// any stride and padding), byte-identical to the DEPTHWISE_CONV_2D reference
// kernel under XNNPACK's fp32 requantization, with a kernel per ISA level.
//
// Each output pixel reads its 9 input pixels through pointers; a tap in the
// padding points at a row of input zero points, so that
//   sum (x - xzp)(w - wzp) + bias = sum x (w - wzp) + bias - xzp * sum (w - wzp)
// holds on the border as inside.
//
// avx2 (depthwise_conv.cc): the taps go in pairs through vpmaddwd, 32
// channels per step: the two taps' bytes interleaved, then widened to int16
// by a second interleave with zeros (which leaves each 128-bit lane's
// channels in four vectors, in the order of the dot-product levels' below),
// against (w - wzp) of both taps packed as int16 pairs in that order once at
// load (the ninth tap is paired with zero bytes and weights). A block of 32
// channels runs without the tail's checks.
//
// avx512vnni (depthwise_vnni.cc) and avxvnni (depthwise_avxvnni.cc), one
// step template (depthwise_step.h): the taps go in fours through vpdpbusd,
// 64 channels per step in zmm (32 in ymm: at avxvnni, and for a last block
// of 32 or fewer): four taps' bytes interleaved (two rounds of unpacks,
// which leave each 128-bit lane's channels in four vectors that packs put
// back in order), against s8 w - 128 packed in that order once at load, and
// sum x (w - wzp) = sum x (w - 128) + (128 - wzp) * sum x, the byte sum by a
// second vpdpbusd against ones. The ninth tap goes with three zero bytes.
//
// Then each requantizes with the same float operations as
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
  static constexpr int kPairs = 5;           // avx2: (0,1) (2,3) (4,5) (6,7) (8,zero)
  static constexpr int kBlockChannels = 32;  // avx2: channels per step, four ymm of int32
  static constexpr int kQuads = 3;           // avx512vnni: taps 0-3, 4-7, 8 and three zeros
  static constexpr int kVnniChannels = 64;   // avx512vnni: channels per step, four zmm of int32

  // filter: [3, 3, channels] uint8 with zero point filter_zero_point; bias:
  // `channels` int32 values or nullptr. Throws std::domain_error on a bad
  // shape or isa xnnpack, Error when the CPU lacks `isa`.
  DepthwiseConv3x3(Isa isa, DepthwiseShape shape, const uint8_t* filter, const int32_t* bias,
                   int32_t input_zero_point, int32_t filter_zero_point, Fp32Requantization requantization);


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
  void run_rows_avx2(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row,
                     int64_t row_begin, int64_t row_end) const;  // depthwise_conv.cc
  void run_rows_vnni(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row,
                     int64_t row_begin, int64_t row_end) const;  // depthwise_vnni.cc
  void run_rows_avxvnni(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row,
                        int64_t row_begin, int64_t row_end) const;  // depthwise_avxvnni.cc
  // The dot-product levels' loop over vector types (depthwise_step.h).
  template <class Wide, class Narrow>
  void run_rows_dot(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row,
                    int64_t row_begin, int64_t row_end) const;

  // The nine tap pointers of each output pixel in turn, for the kernels'
  // loops (generic code, inlined into each ISA's function).
  class Taps {
   public:
    Taps(const DepthwiseConv3x3& conv, const uint8_t* input, int64_t input_row) : c_(conv), input_(input),
        input_row_(input_row) {}
    // Output row `row` (batch * out_h + oy) from its first pixel.
    void start_row(int64_t row) {
      const DepthwiseShape& s = c_.shape_;
      const int64_t batch = row / s.out_h, oy = row % s.out_h;
      image_row_ = batch * s.in_h - input_row_;  // the image's row 0 in `input`, maybe before it
      iy0_ = oy * s.stride_h - s.pad_top;
      rows_inside_ = iy0_ >= 0 && iy0_ + 2 < s.in_h;
      ox_ = 0;
      last_inside_ = false;
    }
    // The taps of the next pixel of the row.
    const uint8_t* const* next() {
      const DepthwiseShape& s = c_.shape_;
      const int64_t channels = s.channels;
      const int64_t ix0 = ox_ * s.stride_w - s.pad_left;
      const bool inside = rows_inside_ && ix0 >= 0 && ix0 + 2 < s.in_w;
      if (inside && last_inside_) {  // the same window, moved one stride right
        for (int k = 0; k < kTaps; ++k) {
          ptr_[k] += s.stride_w * channels;
          // One scalar store per pointer: vectorized, the kernel's 8-byte
          // loads of them would wait on a 64-byte store (no forwarding on Zen).
          asm("" : "+r"(ptr_[k]));
        }
      } else {
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx) {
            const int64_t iy = iy0_ + ky, ix = ix0 + kx;
            const bool tap_inside = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w;
            ptr_[ky * 3 + kx] =
                tap_inside ? input_ + ((image_row_ + iy) * s.in_w + ix) * channels : c_.padding_.data();
          }
      }
      last_inside_ = inside;
      ++ox_;
      return ptr_;
    }

   private:
    const DepthwiseConv3x3& c_;
    const uint8_t* input_;
    int64_t input_row_;
    int64_t image_row_ = 0, iy0_ = 0, ox_ = 0;
    bool rows_inside_ = false, last_inside_ = false;  // last: ptr_ holds pixel ox - 1's, all inside
    const uint8_t* ptr_[kTaps] = {};
  };

  Isa isa_;
  DepthwiseShape shape_;
  int32_t blocks_ = 0;  // ceil(channels / 64) at avx512vnni, ceil(channels / 32) below
  Fp32Requantization requantization_;
  // avx2: per block, per pair, four vectors of 8 lanes x 2 int16
  // (w_a - wzp, w_b - wzp); vector k's lane 4L + j is channel 16L + 4k + j
  // of the block: blocks_ * kPairs * 128 bytes.
  std::vector<int16_t> packed_;
  // avx512vnni, avxvnni: per block, per quad, four vectors of 16 lanes (8
  // in a 32-wide block) x 4 taps, s8 w - 128; vector k's lane 4L + j is
  // channel 16L + 4k + j of the block. Blocks start 64 (avxvnni: 32)
  // channels apart.
  std::vector<int8_t> packed_quads_;
  int32_t sum_factor_ = 0;        // 128 - wzp
  int32_t last_width_ = 0;        // the last block's channels: 64, or 32 (one ymm step)
  std::vector<int32_t> column_;   // bias - xzp * sum (w - wzp), per padded channel, in lane order
  std::vector<uint8_t> padding_;  // channels + 16 input zero points
};

// Why our depthwise kernel does not take op `op_index` at `isa`, or "" when
// it does: a uint8 DEPTHWISE_CONV_2D, 3x3 constant filter, depth multiplier
// 1, dilation 1, XNNPACK's fp32 requantization, `isa` one of ours (avx2,
// avxvnni, avx512vnni) and available here.
std::string depthwise_refusal(const Graph& graph, size_t op_index, Isa isa);

// The op as a Kernel: runs the reference checks (prepare_conv_params), then
// packs. `threadpool` may be nullptr and must outlive the kernel.
std::unique_ptr<Kernel> prepare_depthwise(const OpContext& ctx, Isa isa, pthreadpool_t threadpool);

// The same checks and packing, as the bare DepthwiseConv3x3 (fused_block.h).
DepthwiseConv3x3 create_depthwise_conv(const OpContext& ctx, Isa isa);

}  // namespace lookout::engine
