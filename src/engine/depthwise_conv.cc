// The 3x3 depthwise convolution (depthwise_conv.h). Only the functions marked
// LOOKOUT_AVX2 are compiled for AVX2 (per-function target attribute); they
// run only where isa_available(avx2).
#include "engine/depthwise_conv.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <variant>

#include "engine/error.h"
#include "engine/ops/conv_common.h"
#include "engine/own_conv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define LOOKOUT_AVX2 __attribute__((target("avx2,fma")))
#define LOOKOUT_DEPTHWISE_TARGET LOOKOUT_AVX2
#include "engine/depthwise_step.h"
#endif

namespace lookout::engine {

namespace {
constexpr int kBlock = DepthwiseConv3x3::kBlockChannels;
constexpr size_t kPairElements = 2 * kBlock;  // int16 per pair and block: 32 channels x 2 taps
}  // namespace

DepthwiseConv3x3::DepthwiseConv3x3(Isa isa, DepthwiseShape shape, const uint8_t* filter, const int32_t* bias,
                                   int32_t input_zero_point, int32_t filter_zero_point,
                                   Fp32Requantization requantization)
    : isa_(isa), shape_(shape), requantization_(requantization) {
  if (shape.batches < 1 || shape.in_h < 1 || shape.in_w < 1 || shape.channels < 1 || shape.out_h < 1 ||
      shape.out_w < 1 || shape.stride_h < 1 || shape.stride_w < 1)
    throw std::domain_error("depthwise 3x3 convolution: every dimension and stride must be >= 1");
  if (isa == Isa::xnnpack)
    throw std::domain_error("depthwise 3x3 convolution: ISA level xnnpack has no kernel of ours");
  require_isa(isa);
  const auto channels = static_cast<size_t>(shape.channels);
  // Channels per block: avx512vnni 64 (a last block of 32 or fewer runs as
  // one ymm step), avxvnni and avx2 32.
  const int32_t block = isa_ == Isa::avx512vnni ? kVnniChannels : kBlock;
  blocks_ = (shape.channels + block - 1) / block;
  // In int64, wrapped to int32: the final accumulator is exact in int32
  // (require_accumulator_fits) and the kernel's int32 adds wrap.
  std::vector<int32_t> column(static_cast<size_t>(blocks_) * static_cast<size_t>(block), 0);
  for (size_t c = 0; c < channels; ++c) {
    int64_t filter_sum = 0;
    for (size_t tap = 0; tap < kTaps; ++tap) filter_sum += int64_t{filter[tap * channels + c]} - filter_zero_point;
    const int64_t v = (bias != nullptr ? bias[c] : 0) - int64_t{input_zero_point} * filter_sum;
    column[c] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
  }
  padding_.assign(channels + kVnniChannels, static_cast<uint8_t>(input_zero_point));

  // Block channel 16L + 4k + j sits in vector k, lane 4L + j (at every
  // level): avx2 has its taps in pairs in the lane's int16 halves, the
  // dot-product levels taps 4q..4q+3 in the lane's bytes.
  const int32_t rest = shape.channels % block;
  last_width_ = rest != 0 && rest <= kVnniChannels / 2 ? kVnniChannels / 2 : block;
  if (isa_ == Isa::avx2)
    packed_.assign(static_cast<size_t>(blocks_) * kPairs * kPairElements, 0);
  else
    packed_quads_.assign(static_cast<size_t>(blocks_) * kQuads * static_cast<size_t>(block) * 4, 0);
  sum_factor_ = 128 - filter_zero_point;
  column_.assign(column.size(), 0);
  for (size_t c = 0; c < column.size(); ++c) {
    const size_t b = c / static_cast<size_t>(block), in_block = c % static_cast<size_t>(block);
    const auto width = static_cast<size_t>(b + 1 == static_cast<size_t>(blocks_) ? last_width_ : block);
    if (in_block >= width) continue;
    const size_t L = in_block / 16, k = (in_block % 16) / 4, j = in_block % 4;
    const size_t at = k * (width / 4) + 4 * L + j;
    column_[b * static_cast<size_t>(block) + at] = column[c];
    if (c >= channels) continue;
    for (size_t tap = 0; tap < kTaps; ++tap) {
      const int32_t w = filter[tap * channels + c];
      if (isa_ == Isa::avx2) {
        const size_t pair = tap / 2, side = tap % 2;
        packed_[(b * kPairs + pair) * kPairElements + at * 2 + side] = static_cast<int16_t>(w - filter_zero_point);
      } else {
        const size_t quad = tap / 4, byte = tap % 4;
        packed_quads_[(b * kQuads * static_cast<size_t>(block) + quad * width + at) * 4 + byte] =
            static_cast<int8_t>(w - 128);
      }
    }
  }
}

void DepthwiseConv3x3::run_rows(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t output_row,
                                int64_t row_begin, int64_t row_end) const {
  switch (isa_) {
    case Isa::avx512vnni: run_rows_vnni(input, input_row, output, output_row, row_begin, row_end); break;
    case Isa::avxvnni: run_rows_avxvnni(input, input_row, output, output_row, row_begin, row_end); break;
    default: run_rows_avx2(input, input_row, output, output_row, row_begin, row_end); break;
  }
}

#if defined(__x86_64__)

namespace {

// Fp32Requantization::apply on 8 accumulators (as pointwise_avx2.cc).
LOOKOUT_AVX2 inline __m256i requantize(__m256i acc, __m256 scale, __m256 min, __m256 max, __m256i zero_point) {
  __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
  x = _mm256_min_ps(_mm256_max_ps(x, min), max);
  return _mm256_add_epi32(_mm256_cvtps_epi32(x), zero_point);
}

// One pixel's block of channels from channel c: `w` the block's packed
// pairs, `column` its column constants. kFull: all 32 channels, so loads and
// stores need no tail checks (a block of fewer takes kFull = false, with
// `valid` channels).
template <bool kFull>
LOOKOUT_AVX2 inline void avx2_step(const uint8_t* const* taps, int64_t c, int64_t valid, const int16_t* w,
                                   const int32_t* column, uint8_t* out,
                                   const depthwise_detail::Constants<depthwise_detail::YmmOps>& k) {
  using V = depthwise_detail::YmmOps;
  const __m256i zero = _mm256_setzero_si256();
  __m256i acc[4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) acc[v] = V::load(column + 8 * v);
#pragma GCC unroll 5
  for (int pair = 0; pair < DepthwiseConv3x3::kPairs; ++pair) {
    // Per 128-bit lane L: the taps' bytes of channels 16L + 0..7
    // interleaved (lo), of 16L + 8..15 (hi); then each as int16 pairs,
    // four channels per vector. The ninth tap's partner is zero (its
    // weights are too).
    const __m256i a = kFull ? V::load(taps[2 * pair] + c) : V::load(valid, taps[2 * pair] + c);
    const __m256i b = 2 * pair + 1 == DepthwiseConv3x3::kTaps ? zero
                      : kFull                                 ? V::load(taps[2 * pair + 1] + c)
                                                              : V::load(valid, taps[2 * pair + 1] + c);
    const __m256i lo = _mm256_unpacklo_epi8(a, b), hi = _mm256_unpackhi_epi8(a, b);
    const __m256i x[4] = {_mm256_unpacklo_epi8(lo, zero), _mm256_unpackhi_epi8(lo, zero),
                          _mm256_unpacklo_epi8(hi, zero), _mm256_unpackhi_epi8(hi, zero)};
    const auto* wv = reinterpret_cast<const __m256i*>(w + static_cast<size_t>(pair) * kPairElements);
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(x[v], _mm256_loadu_si256(wv + v)));
    // One pair at a time: hoisting every tap's load spills the vectors.
    asm volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3])::"memory");
  }
  __m256i q[4];
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) q[v] = requantize(acc[v], k.scale, k.min, k.max, k.zero_point);
  // Per 128-bit lane L: channels 16L + 0..7 as words, then 8..15, then all 16 as bytes.
  const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  if (kFull)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), bytes);
  else
    V::store(out + c, valid, bytes);
}

}  // namespace

LOOKOUT_AVX2 void DepthwiseConv3x3::run_rows_avx2(const uint8_t* input, int64_t input_row, uint8_t* output,
                                                  int64_t output_row, int64_t row_begin, int64_t row_end) const {
  const auto k = depthwise_detail::constants<depthwise_detail::YmmOps>(requantization_, sum_factor_);
  const DepthwiseShape& s = shape_;
  const int64_t channels = s.channels;
  const int32_t full_blocks = static_cast<int32_t>(channels / kBlock);
  Taps walk(*this, input, input_row);
  for (int64_t row = row_begin; row < row_end; ++row) {  // row = batch * out_h + oy
    walk.start_row(row);
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const uint8_t* const* taps = walk.next();
      uint8_t* out = output + ((row - output_row) * s.out_w + ox) * channels;
      for (int32_t b = 0; b < blocks_; ++b) {
        const int64_t c = int64_t{b} * kBlock;
        const int16_t* w = packed_.data() + static_cast<size_t>(b) * kPairs * kPairElements;
        if (b < full_blocks)
          avx2_step<true>(taps, c, kBlock, w, column_.data() + c, out, k);
        else
          avx2_step<false>(taps, c, channels - c, w, column_.data() + c, out, k);
      }
    }
  }
}

#else

void DepthwiseConv3x3::run_rows_avx2(const uint8_t*, int64_t, uint8_t*, int64_t, int64_t, int64_t) const {
  throw Error("the AVX2 depthwise kernel is not built for this architecture");
}

#endif  // __x86_64__

void DepthwiseConv3x3::run(const uint8_t* input, uint8_t* output, pthreadpool_t threadpool) const {
  const int64_t rows = int64_t{shape_.batches} * shape_.out_h;
  const size_t threads = threadpool != nullptr ? pthreadpool_get_threads_count(threadpool) : 1;
  if (threads <= 1) {
    run_rows(input, 0, output, 0, 0, rows);
    return;
  }
  pthreadpool_parallelize_1d_tile_1d(
      threadpool,
      [&](size_t begin, size_t count) {
        run_rows(input, 0, output, 0, static_cast<int64_t>(begin), static_cast<int64_t>(begin + count));
      },
      static_cast<size_t>(rows), /*tile=*/1);
}

void DepthwiseConv3x3::run_band(const uint8_t* input, int64_t input_row, uint8_t* output, int64_t row_begin,
                                int64_t row_end) const {
  if (row_begin < 0 || row_end > shape_.out_h || row_begin > row_end)
    throw std::domain_error("depthwise 3x3 convolution: band rows [" + std::to_string(row_begin) + ", " +
                            std::to_string(row_end) + ") outside batch 0's " + std::to_string(shape_.out_h));
  run_rows(input, input_row, output, row_begin, row_begin, row_end);
}

DepthwiseConv3x3::RowSpan DepthwiseConv3x3::input_rows(int64_t row_begin, int64_t row_end) const {
  const int64_t first = row_begin * shape_.stride_h - shape_.pad_top;
  const int64_t last = (row_end - 1) * shape_.stride_h - shape_.pad_top + 3;
  return RowSpan{std::max<int64_t>(first, 0), std::min<int64_t>(last, shape_.in_h)};
}

// ---------------------------------------------------------------------------
// The op.

std::string depthwise_refusal(const Graph& graph, size_t op_index, Isa isa) {
  if (std::string why = own_conv_refusal(graph, op_index, OpKind::depthwise_conv_2d); !why.empty()) return why;
  const Operator& op = graph.ops[op_index];
  const Tensor* filter = tensor_at(graph, op.inputs, kConvFilter);
  if (filter->shape.size() != 4 || filter->dim(1) != 3 || filter->dim(2) != 3) return "the filter is not 3x3";
  if (std::get<ConvOptions>(op.options).depth_multiplier != 1) return "depth multiplier is not 1";
  return own_isa_refusal(isa);
}

DepthwiseConv3x3 create_depthwise_conv(const OpContext& ctx, Isa isa) {
  const ConvParams p = prepare_conv_params(ctx, /*depthwise=*/true);
  ctx.require(p.type == DType::uint8 && p.k_h == 3 && p.k_w == 3 && p.options.depth_multiplier == 1 &&
                  p.options.dilation_h == 1 && p.options.dilation_w == 1,
              "the depthwise kernel takes uint8 3x3 filters with depth multiplier 1 and dilation 1 only");
  ctx.require(p.requantization.xnnpack, "the depthwise kernel needs XNNPACK's fp32 requantization");
  ctx.require(isa != Isa::xnnpack && isa_available(isa),
              std::string("the depthwise kernel needs ISA level ") + isa_name(isa) + ", which this CPU lacks");
  const Tensor& filter = ctx.input(kConvFilter);
  const std::vector<int32_t> bias = conv_detail::bias_or_zeros<int32_t>(ctx, p);
  const auto channels = static_cast<size_t>(p.out_c);
  std::vector<int64_t> abs_sum(channels, 0);
  for (size_t i = 0; i < filter.elements(); ++i) {  // channel is the innermost dimension
    const int32_t v = int32_t{filter.constant[i]} + p.filter_offset;
    abs_sum[i % channels] += v < 0 ? -v : v;
  }
  require_accumulator_fits(ctx, p, abs_sum, bias.data());
  DepthwiseShape shape;
  shape.batches = p.batches;
  shape.in_h = p.in_h;
  shape.in_w = p.in_w;
  shape.channels = p.in_c;
  shape.out_h = p.geometry.out_h;
  shape.out_w = p.geometry.out_w;
  shape.stride_h = p.options.stride_h;
  shape.stride_w = p.options.stride_w;
  shape.pad_top = p.geometry.pad_top;
  shape.pad_left = p.geometry.pad_left;
  return DepthwiseConv3x3(isa, shape, filter.constant, bias.data(), -p.input_offset, -p.filter_offset,
                          p.requantization.fp32);
}

std::unique_ptr<Kernel> prepare_depthwise(const OpContext& ctx, Isa isa, pthreadpool_t threadpool) {
  return std::make_unique<OwnConvKernel<DepthwiseConv3x3>>(ctx.input_index(kConvInput), ctx.output_index(kConvOutput),
                                                           create_depthwise_conv(ctx, isa), threadpool);
}

}  // namespace lookout::engine
