// The VNNI pointwise convolution (vnni_pointwise.h). Only the functions marked
// LOOKOUT_VNNI are compiled for AVX-512 (per-function target attribute, not a
// global -march flag, so nothing else changes code generation); they run only
// after vnni_pointwise_available() said yes.
//
// Register tile: kTilePixels pixels x kChunkBlocks vectors of 16 output
// channels = 24 int32 accumulators. Per group of 4 input channels, each pixel's
// 4 bytes are broadcast and each filter vector loaded once.
#include "engine/vnni_pointwise.h"

#include <cpuinfo.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <variant>

#include "engine/ops/conv_common.h"

#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace lookout::engine {

namespace {

constexpr int kTile = VnniPointwise::kTilePixels;
constexpr int kBlock = VnniPointwise::kBlockChannels;
constexpr int kChunk = VnniPointwise::kChunkBlocks;
constexpr size_t kVectorBytes = 64;  // one zmm: 16 channels x 4 input channels

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// acc += 4-byte dot products of u8 x s8, per int32 lane (vpdpbusd). Inline
// asm with acc as a read-write operand: GCC 12's _mm512_dpbusd_epi32 gives a
// register copy per call and spills the accumulator tile to the stack.
LOOKOUT_VNNI inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
}

// The float constants of the requantization, one vector each.
struct RequantVectors {
  __m512 scale, min, max;
  __m512i zero_point;
};

// Fp32Requantization::apply on 16 accumulators, the same float operations in
// the same order: int32 -> float (round to nearest even, MXCSR default),
// multiply, clamp (max then min, no NaN possible), round to nearest even,
// + zero point. The result is in [0, 255], so truncating to bytes is exact.
LOOKOUT_VNNI inline __m128i requantize(__m512i acc, const RequantVectors& q) {
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), q.scale);
  x = _mm512_min_ps(_mm512_max_ps(x, q.min), q.max);
  const __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(x), q.zero_point);
  return _mm512_cvtepi32_epi8(v);
}

// Sum of `n` bytes.
LOOKOUT_VNNI inline int32_t byte_sum(const uint8_t* x, int32_t n) {
  __m512i total = _mm512_setzero_si512();
  int32_t i = 0;
  for (; i + 64 <= n; i += 64)
    total = _mm512_add_epi64(total, _mm512_sad_epu8(_mm512_loadu_si512(x + i), _mm512_setzero_si512()));
  if (i < n) {
    const __mmask64 mask = (uint64_t{1} << (n - i)) - 1;  // n - i < 64
    total = _mm512_add_epi64(total, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(mask, x + i), _mm512_setzero_si512()));
  }
  return static_cast<int32_t>(_mm512_reduce_add_epi64(total));
}

struct TileArgs {
  const uint8_t* input;   // first pixel of the tile
  int32_t in_c;
  int32_t full_groups;    // in_c / 4
  int32_t tail;           // in_c % 4
  const int8_t* filter;   // the chunk's packed filter
  const int32_t* column;  // the chunk's first channel's column constant
  const int32_t* row;     // the tile's per-pixel row terms
  uint8_t* output;        // first pixel, first channel of the chunk
  int32_t out_c;          // output row stride
  int32_t channels;       // valid channels in the chunk (<= N * 16)
};

// One register tile: M pixels x N vectors of output channels.
template <int M, int N>
LOOKOUT_VNNI void tile(const TileArgs& a, const RequantVectors& q) {
  __m512i acc[M][N];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) acc[m][n] = _mm512_setzero_si512();

  const int8_t* w = a.filter;
  const uint8_t* x = a.input;
  for (int32_t g = 0; g < a.full_groups; ++g) {
    __m512i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm512_load_si512(w + n * kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512i xv = _mm512_set1_epi32(static_cast<int32_t>(load_u32(x + m * a.in_c)));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
    w += N * kVectorBytes;
    x += 4;
  }
  if (a.tail != 0) {  // the last 1-3 input channels; the filter is zero past in_c
    __m512i wv[N];
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) wv[n] = _mm512_load_si512(w + n * kVectorBytes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      uint32_t bytes = 0;
      std::memcpy(&bytes, x + m * a.in_c, static_cast<size_t>(a.tail));
      const __m512i xv = _mm512_set1_epi32(static_cast<int32_t>(bytes));
#pragma GCC unroll 3
      for (int n = 0; n < N; ++n) dpbusd(acc[m][n], xv, wv[n]);
    }
  }

  __m512i column[N];
#pragma GCC unroll 3
  for (int n = 0; n < N; ++n) column[n] = _mm512_loadu_si512(a.column + n * kBlock);
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    const __m512i row = _mm512_set1_epi32(a.row[m]);
    uint8_t* out = a.output + static_cast<int64_t>(m) * a.out_c;
#pragma GCC unroll 3
    for (int n = 0; n < N; ++n) {
      const __m512i total = _mm512_add_epi32(_mm512_add_epi32(acc[m][n], row), column[n]);
      const __m128i bytes = requantize(total, q);
      const int32_t left = a.channels - n * kBlock;
      if (left >= kBlock)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n * kBlock), bytes);
      else
        _mm_mask_storeu_epi8(out + n * kBlock, static_cast<__mmask16>((1u << left) - 1u), bytes);
    }
  }
}

using TileFn = void (*)(const TileArgs&, const RequantVectors&);

template <int N>
constexpr TileFn tile_for_pixels(int m) {
  switch (m) {
    case 1: return &tile<1, N>;
    case 2: return &tile<2, N>;
    case 3: return &tile<3, N>;
    case 4: return &tile<4, N>;
    case 5: return &tile<5, N>;
    case 6: return &tile<6, N>;
    case 7: return &tile<7, N>;
    default: return &tile<8, N>;
  }
}

TileFn tile_fn(int m, int n) {
  static_assert(kTile == 8 && kChunk == 3, "tile_fn dispatches M in 1..8, N in 1..3");
  switch (n) {
    case 1: return tile_for_pixels<1>(m);
    case 2: return tile_for_pixels<2>(m);
    default: return tile_for_pixels<3>(m);
  }
}

}  // namespace

bool vnni_pointwise_available() {
  static const bool available = [] {
    return cpuinfo_initialize() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
           cpuinfo_has_x86_avx512vnni();
  }();
  return available;
}

VnniPointwise::VnniPointwise(PointwiseShape shape, const uint8_t* filter, const int32_t* bias,
                             int32_t input_zero_point, int32_t filter_zero_point, Fp32Requantization requantization)
    : shape_(shape), requantization_(requantization) {
  if (shape.pixels < 1 || shape.in_c < 1 || shape.out_c < 1)
    throw std::domain_error("VNNI pointwise convolution: pixels " + std::to_string(shape.pixels) + ", in_c " +
                            std::to_string(shape.in_c) + " and out_c " + std::to_string(shape.out_c) +
                            " must all be >= 1");
  groups_ = (shape.in_c + 3) / 4;
  blocks_ = (shape.out_c + kBlock - 1) / kBlock;
  row_factor_ = 128 - filter_zero_point;

  const size_t bytes = static_cast<size_t>(blocks_) * static_cast<size_t>(groups_) * kVectorBytes;
  packed_storage_.assign(bytes + kVectorBytes, 0);
  const auto base = reinterpret_cast<uintptr_t>(packed_storage_.data());
  const size_t skip = (kVectorBytes - base % kVectorBytes) % kVectorBytes;
  int8_t* packed = packed_storage_.data() + skip;
  packed_ = packed;

  const size_t in_c = static_cast<size_t>(shape.in_c);
  column_.assign(static_cast<size_t>(blocks_) * kBlock, 0);
  for (int32_t chunk = 0; chunk < blocks_; chunk += kChunk) {
    const int32_t n_blocks = std::min(kChunk, blocks_ - chunk);
    int8_t* chunk_base = packed + static_cast<size_t>(chunk) * static_cast<size_t>(groups_) * kVectorBytes;
    for (int32_t g = 0; g < groups_; ++g)
      for (int32_t n = 0; n < n_blocks; ++n)
        for (int32_t c = 0; c < kBlock; ++c) {
          const int32_t oc = (chunk + n) * kBlock + c;
          if (oc >= shape.out_c) continue;
          for (int32_t j = 0; j < 4; ++j) {
            const int32_t ic = 4 * g + j;
            if (ic >= shape.in_c) continue;
            const int32_t w = filter[static_cast<size_t>(oc) * in_c + static_cast<size_t>(ic)];
            chunk_base[(static_cast<size_t>(g) * static_cast<size_t>(n_blocks) + static_cast<size_t>(n)) *
                           kVectorBytes +
                       static_cast<size_t>(c) * 4 + static_cast<size_t>(j)] = static_cast<int8_t>(w - 128);
          }
        }
  }
  // In int64, wrapped to int32 at the end: the final accumulator is exact in
  // int32 (require_accumulator_fits), and int32 adds wrap in the kernel.
  for (int32_t oc = 0; oc < shape.out_c; ++oc) {
    int64_t filter_sum = 0;
    for (size_t ic = 0; ic < in_c; ++ic)
      filter_sum += int64_t{filter[static_cast<size_t>(oc) * in_c + ic]} - filter_zero_point;
    const int64_t c = (bias != nullptr ? bias[oc] : 0) - int64_t{input_zero_point} * filter_sum;
    column_[static_cast<size_t>(oc)] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(c)));
  }
}

LOOKOUT_VNNI void VnniPointwise::run_range(const uint8_t* input, uint8_t* output, const Range& r) const {
  const RequantVectors q{_mm512_set1_ps(requantization_.scale), _mm512_set1_ps(requantization_.min_less_zero_point),
                         _mm512_set1_ps(requantization_.max_less_zero_point),
                         _mm512_set1_epi32(requantization_.zero_point)};
  const int64_t in_c = shape_.in_c, out_c = shape_.out_c;
  TileArgs a{};
  a.in_c = shape_.in_c;
  a.full_groups = shape_.in_c / 4;
  a.tail = shape_.in_c % 4;
  a.out_c = shape_.out_c;
  int32_t row[kTile];
  a.row = row;
  for (int64_t p = r.pixel_begin; p < r.pixel_end; p += kTile) {
    const int m = static_cast<int>(std::min<int64_t>(kTile, r.pixel_end - p));
    for (int i = 0; i < m; ++i)
      row[i] = static_cast<int32_t>(static_cast<uint32_t>(row_factor_) *
                                    static_cast<uint32_t>(byte_sum(input + (p + i) * in_c, shape_.in_c)));
    a.input = input + p * in_c;
    // block_begin is a multiple of kChunk and block_end one or blocks_ (run()
    // splits so), so every register tile is one whole packed chunk.
    for (int32_t b = r.block_begin; b < r.block_end; b += kChunk) {
      const int n = std::min(kChunk, r.block_end - b);
      a.filter = packed_ + static_cast<int64_t>(b) * groups_ * static_cast<int64_t>(kVectorBytes);
      a.column = column_.data() + static_cast<int64_t>(b) * kBlock;
      a.output = output + p * out_c + int64_t{b} * kBlock;
      a.channels = static_cast<int32_t>(std::min<int64_t>(int64_t{n} * kBlock, out_c - int64_t{b} * kBlock));
      tile_fn(m, n)(a, q);
    }
  }
}

void VnniPointwise::run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const {
  const size_t threads = threadpool != nullptr ? pthreadpool_get_threads_count(threadpool) : 1;
  if (threads <= 1) {
    run_range(input, output, Range{0, shape_.pixels, 0, blocks_});
    return;
  }
  // Tasks of a few register tiles; with few pixels, output chunks are split too.
  const auto pixels = static_cast<size_t>(shape_.pixels);
  const size_t tile_i = 4 * kTile;
  const size_t pixel_tasks = (pixels + tile_i - 1) / tile_i;
  const size_t tile_j = pixel_tasks >= 4 * threads ? static_cast<size_t>(blocks_) : static_cast<size_t>(kChunk);
  pthreadpool_parallelize_2d_tile_2d(
      threadpool,
      [&](size_t i, size_t j, size_t count_i, size_t count_j) {
        run_range(input, output,
                  Range{static_cast<int64_t>(i), static_cast<int64_t>(i + count_i), static_cast<int32_t>(j),
                        static_cast<int32_t>(j + count_j)});
      },
      pixels, static_cast<size_t>(blocks_), tile_i, tile_j);
}

// ---------------------------------------------------------------------------
// The op.

std::string vnni_pointwise_refusal(const Graph& graph, size_t op_index) {
  const Operator& op = graph.ops.at(op_index);
  if (op.kind != OpKind::conv_2d) return "not a CONV_2D";
  const auto* options = std::get_if<ConvOptions>(&op.options);
  if (options == nullptr) return "no convolution options";
  const auto tensor = [&](const std::vector<int32_t>& ids, size_t pos) -> const Tensor* {
    if (pos >= ids.size() || ids[pos] < 0 || static_cast<size_t>(ids[pos]) >= graph.tensors.size()) return nullptr;
    return &graph.tensors[static_cast<size_t>(ids[pos])];
  };
  const Tensor* input = tensor(op.inputs, kConvInput);
  const Tensor* filter = tensor(op.inputs, kConvFilter);
  const Tensor* output = tensor(op.outputs, kConvOutput);
  if (input == nullptr || filter == nullptr || output == nullptr) return "missing input, filter or output";
  if (input->type != DType::uint8) return "not uint8";
  if (filter->shape.size() != 4 || filter->dim(1) != 1 || filter->dim(2) != 1) return "the filter is not 1x1";
  if (options->stride_h != 1 || options->stride_w != 1) return "stride is not 1";
  if (options->dilation_h != 1 || options->dilation_w != 1) return "dilation is not 1";
  if (!xnn_conv_supported(input->quant.scale, filter->quant.scale, output->quant.scale))
    return "requantization is not XNNPACK's fp32 scheme";
  if (!vnni_pointwise_available()) return "the CPU lacks AVX-512 VNNI";
  return "";
}

namespace {

class VnniPointwiseKernel final : public Kernel {
 public:
  VnniPointwiseKernel(int32_t input, int32_t output, VnniPointwise conv, pthreadpool_t threadpool)
      : input_(input), output_(output), conv_(std::move(conv)), threadpool_(threadpool) {}

  void eval(const TensorBuffers& buffers) const override {
    conv_.run(buffers.in<uint8_t>(input_), buffers.out<uint8_t>(output_), threadpool_);
  }

 private:
  int32_t input_, output_;
  VnniPointwise conv_;
  pthreadpool_t threadpool_;
};

}  // namespace

std::unique_ptr<Kernel> prepare_vnni_pointwise(const OpContext& ctx, pthreadpool_t threadpool) {
  const ConvParams p = prepare_conv_params(ctx, /*depthwise=*/false);
  ctx.require(p.type == DType::uint8 && p.k_h == 1 && p.k_w == 1 && p.options.stride_h == 1 &&
                  p.options.stride_w == 1 && p.options.dilation_h == 1 && p.options.dilation_w == 1,
              "the VNNI kernel takes uint8 1x1 convolutions with stride 1 and dilation 1 only");
  ctx.require(p.requantization.xnnpack, "the VNNI kernel needs XNNPACK's fp32 requantization");
  ctx.require(vnni_pointwise_available(), "the VNNI kernel needs AVX-512 VNNI");
  const Tensor& filter = ctx.input(kConvFilter);
  const size_t out_c = static_cast<size_t>(p.out_c), in_c = static_cast<size_t>(p.in_c);
  std::vector<int32_t> bias =
      p.bias >= 0 ? conv_detail::copy_constant<int32_t>(ctx.input(kConvBias)) : std::vector<int32_t>(out_c, 0);
  std::vector<int64_t> abs_sum(out_c, 0);
  for (size_t oc = 0; oc < out_c; ++oc)
    for (size_t ic = 0; ic < in_c; ++ic) {
      const int32_t v = int32_t{filter.constant[oc * in_c + ic]} + p.filter_offset;
      abs_sum[oc] += v < 0 ? -v : v;
    }
  require_accumulator_fits(ctx, p, abs_sum, bias.data());
  const PointwiseShape shape{int64_t{p.batches} * p.in_h * p.in_w, p.in_c, p.out_c};
  VnniPointwise conv(shape, filter.constant, bias.data(), -p.input_offset, -p.filter_offset, p.requantization.fp32);
  return std::make_unique<VnniPointwiseKernel>(p.input, p.output, std::move(conv), threadpool);
}

}  // namespace lookout::engine
