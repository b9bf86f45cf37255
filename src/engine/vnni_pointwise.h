// A fast uint8 1x1 convolution (pointwise: kernel 1x1, stride 1, dilation 1)
// with AVX-512 VNNI (vpdpbusd), byte-identical to the CONV_2D reference kernel
// under XNNPACK's fp32 requantization (Fp32Requantization). The XNNPACK
// backend runs the model's pointwise convolutions on it when the CPU has VNNI
// (this XNNPACK snapshot does not use it).
//
// The NHWC input is a [pixels x in_c] uint8 matrix, the filter [out_c x in_c].
// vpdpbusd multiplies unsigned by signed bytes, so the filter is packed as
// s8 = w - 128 and the sums are corrected exactly in int32:
//   sum (x - xzp)(w - wzp) + bias
//     = sum x (w - 128)                      vpdpbusd
//     + (128 - wzp) * sum x                  per pixel
//     + bias - xzp * sum (w - wzp)           per output channel, at create
// then requantized with the same float operations as Fp32Requantization::apply.
//
// Lifecycle: create (checks, packs the filter once) -> run (any number of
// times, on any input/output buffers of the shape it was created for).
#pragma once

#include <pthreadpool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/kernel.h"
#include "engine/quantization.h"

namespace lookout::engine {

// True when the CPU runs AVX-512 F/BW/VL/VNNI (cpuinfo), checked once.
bool vnni_pointwise_available();

struct PointwiseShape {
  int64_t pixels = 0;  // batches x height x width
  int32_t in_c = 0, out_c = 0;
};

class VnniPointwise {
 public:
  // filter: [out_c, in_c] uint8 values with zero point filter_zero_point;
  // bias: out_c int32 values, or nullptr for none. Throws std::domain_error
  // on a non-positive dimension.
  VnniPointwise(PointwiseShape shape, const uint8_t* filter, const int32_t* bias, int32_t input_zero_point,
                int32_t filter_zero_point, Fp32Requantization requantization);
  VnniPointwise(const VnniPointwise&) = delete;  // packed_ points into packed_storage_
  VnniPointwise& operator=(const VnniPointwise&) = delete;
  VnniPointwise(VnniPointwise&&) = default;      // a moved vector keeps its buffer
  VnniPointwise& operator=(VnniPointwise&&) = default;

  // output[p][oc] = requantize(sum over ic of (input[p][ic] - xzp) *
  // (filter[oc][ic] - wzp) + bias[oc]). Pixels are split across `threadpool`
  // (nullptr: the calling thread only). Requires vnni_pointwise_available().
  void run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const;

  const PointwiseShape& shape() const { return shape_; }

  // Pixels per register tile and output channels per vector (for the packing).
  static constexpr int kTilePixels = 8;
  static constexpr int kBlockChannels = 16;
  static constexpr int kChunkBlocks = 3;  // vectors of output channels per register tile

 private:
  struct Range { int64_t pixel_begin, pixel_end; int32_t block_begin, block_end; };
  void run_range(const uint8_t* input, uint8_t* output, const Range& r) const;

  PointwiseShape shape_;
  int32_t groups_ = 0;  // ceil(in_c / 4): vpdpbusd takes 4 input channels per lane
  int32_t blocks_ = 0;  // ceil(out_c / 16)
  int32_t row_factor_ = 0;  // 128 - filter zero point
  Fp32Requantization requantization_;
  // Packed filter: chunks of up to kChunkBlocks blocks; inside a chunk
  // [group][block][16 channels][4 input channels] of (w - 128) as int8, zeros
  // past in_c/out_c. A chunk starting at block b begins at b * groups_ * 64.
  std::vector<int8_t> packed_storage_;  // packed_ is its first 64-byte aligned byte
  const int8_t* packed_ = nullptr;
  std::vector<int32_t> column_;  // bias - xzp * sum(w - wzp), per padded channel
};

// Why the VNNI kernel does not take op `op_index`, or "" when it does: a uint8
// CONV_2D with a 1x1 filter, stride 1, dilation 1, a constant filter, XNNPACK's
// fp32 requantization (xnn_conv_supported), on a CPU with VNNI.
std::string vnni_pointwise_refusal(const Graph& graph, size_t op_index);

// The op as a Kernel: runs the reference CONV_2D checks (prepare_conv_params),
// then packs. `threadpool` may be nullptr and must outlive the kernel.
std::unique_ptr<Kernel> prepare_vnni_pointwise(const OpContext& ctx, pthreadpool_t threadpool);

}  // namespace lookout::engine
