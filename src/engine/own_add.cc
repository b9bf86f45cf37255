#include "engine/own_add.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <variant>

#include "engine/error.h"
#include "engine/own_conv.h"
#include "engine/quantization.h"

#define LOOKOUT_AVX2 __attribute__((target("avx2")))
#define LOOKOUT_AVX512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl")))

namespace lookout::engine {

namespace {

// Elements per threadpool task.
constexpr size_t kTaskElements = 16384;

// out[i] = r.apply(a[i], b[i]) for i in [begin, end), with the same int32
// operations (adds wrap, so bias + rounding is one add; the shift is
// arithmetic, as >> on int32), 8 lanes (AVX2) or 16 (AVX-512) at a time.
#if defined(__x86_64__)
int32_t bias_and_rounding(const XnnAddRequantization& r) {
  return static_cast<int32_t>(static_cast<uint32_t>(r.bias) + static_cast<uint32_t>(r.rounding));
}

LOOKOUT_AVX2 void add_range_avx2(const XnnAddRequantization& r, const uint8_t* a, const uint8_t* b, uint8_t* out,
                                 size_t begin, size_t end) {
  const __m256i a_multiplier = _mm256_set1_epi32(r.a_multiplier), b_multiplier = _mm256_set1_epi32(r.b_multiplier);
  const __m256i bias = _mm256_set1_epi32(bias_and_rounding(r));
  const __m128i shift = _mm_cvtsi32_si128(r.shift);
  const __m256i zero_point = _mm256_set1_epi32(r.zero_point);
  const __m256i min = _mm256_set1_epi32(r.range.min), max = _mm256_set1_epi32(r.range.max);
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i y = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i acc = _mm256_add_epi32(
        _mm256_add_epi32(bias, _mm256_mullo_epi32(x, a_multiplier)), _mm256_mullo_epi32(y, b_multiplier));
    __m256i v = _mm256_add_epi32(_mm256_sra_epi32(acc, shift), zero_point);
    v = _mm256_min_epi32(_mm256_max_epi32(v, min), max);  // in [0, 255]: the packs below are exact
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words, words));
  }
  for (; i < end; ++i) out[i] = r.apply(a[i], b[i]);
}

LOOKOUT_AVX512 void add_range_avx512(const XnnAddRequantization& r, const uint8_t* a, const uint8_t* b, uint8_t* out,
                                     size_t begin, size_t end) {
  const __m512i a_multiplier = _mm512_set1_epi32(r.a_multiplier), b_multiplier = _mm512_set1_epi32(r.b_multiplier);
  const __m512i bias = _mm512_set1_epi32(bias_and_rounding(r));
  const __m128i shift = _mm_cvtsi32_si128(r.shift);
  const __m512i zero_point = _mm512_set1_epi32(r.zero_point);
  const __m512i min = _mm512_set1_epi32(r.range.min), max = _mm512_set1_epi32(r.range.max);
  size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m512i y = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    const __m512i acc = _mm512_add_epi32(
        _mm512_add_epi32(bias, _mm512_mullo_epi32(x, a_multiplier)), _mm512_mullo_epi32(y, b_multiplier));
    __m512i v = _mm512_add_epi32(_mm512_sra_epi32(acc, shift), zero_point);
    v = _mm512_min_epi32(_mm512_max_epi32(v, min), max);  // in [0, 255]: truncating to bytes is exact
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(v));
  }
  add_range_avx2(r, a, b, out, i, end);
}
#endif

void add_range(Isa isa, const XnnAddRequantization& r, const uint8_t* a, const uint8_t* b, uint8_t* out,
               size_t begin, size_t end) {
#if defined(__x86_64__)
  if (isa == Isa::avx512vnni)
    add_range_avx512(r, a, b, out, begin, end);
  else
    add_range_avx2(r, a, b, out, begin, end);
#else
  (void)isa, (void)r, (void)a, (void)b, (void)out, (void)begin, (void)end;
  throw Error("our ADD kernel is not built for this architecture");
#endif
}

class OwnAdd final : public Kernel {
 public:
  OwnAdd(const OpContext& ctx, Isa isa, pthreadpool_t threadpool)
      : a_(ctx.input_index(0)), b_(ctx.input_index(1)), out_(ctx.output_index(0)), add_(ctx, isa),
        count_(ctx.output(0).elements()), threadpool_(threadpool) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* a = buffers.in<uint8_t>(a_);
    const uint8_t* b = buffers.in<uint8_t>(b_);
    uint8_t* out = buffers.out<uint8_t>(out_);
    if (threadpool_ == nullptr || count_ <= kTaskElements) {
      add_.run(a, b, out, 0, count_);
      return;
    }
    pthreadpool_parallelize_1d_tile_1d(
        threadpool_, [&](size_t begin, size_t n) { add_.run(a, b, out, begin, begin + n); }, count_, kTaskElements);
  }

 private:
  int32_t a_, b_, out_;
  OwnAddRange add_;
  size_t count_;
  pthreadpool_t threadpool_;
};

}  // namespace

std::string own_add_refusal(const Graph& graph, size_t op_index, Isa isa) {
  const Operator& op = graph.ops.at(op_index);
  if (op.kind != OpKind::add) return "not an ADD";
  const Tensor* a = tensor_at(graph, op.inputs, 0);
  const Tensor* b = tensor_at(graph, op.inputs, 1);
  const Tensor* out = tensor_at(graph, op.outputs, 0);
  if (op.inputs.size() != 2 || op.outputs.size() != 1 || a == nullptr || b == nullptr || out == nullptr)
    return "not two inputs and one output";
  if (a->type != DType::uint8 || b->type != DType::uint8 || out->type != DType::uint8) return "not uint8";
  if (a->shape != out->shape || b->shape != out->shape) return "an input is broadcast";
  if (!xnn_add_supported(a->quant.scale, b->quant.scale, out->quant.scale))
    return "scales XNNPACK's quint8 ADD refuses";
  return own_isa_refusal(isa);
}

OwnAddRange::OwnAddRange(const OpContext& ctx, Isa isa) : isa_(isa) {
  prepare_add(ctx);  // the reference checks; its kernel is not kept
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& out = ctx.output(0);
  ctx.require(a.type == DType::uint8 && a.shape == out.shape && b.shape == out.shape,
              "our ADD takes uint8 inputs of the output's shape only");
  ctx.require(xnn_add_supported(a.quant.scale, b.quant.scale, out.quant.scale),
              "our ADD needs scales XNNPACK's quint8 ADD takes");
  ctx.require(isa != Isa::xnnpack && isa_available(isa),
              std::string("our ADD needs ISA level ") + isa_name(isa) + ", which this CPU lacks");
  const auto* options = std::get_if<AddOptions>(&ctx.op().options);  // else none (prepare_add checked)
  const Activation activation = options != nullptr ? options->activation : Activation::none;
  r_ = xnn_add_requantization(a.quant, b.quant, out.quant, xnn_activation_range_uint8(activation, out.quant));
}

void OwnAddRange::run(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t begin, size_t end) const {
  add_range(isa_, r_, a, b, out, begin, end);
}

std::unique_ptr<Kernel> prepare_own_add(const OpContext& ctx, Isa isa, pthreadpool_t threadpool) {
  return std::make_unique<OwnAdd>(ctx, isa, threadpool);
}

}  // namespace lookout::engine
