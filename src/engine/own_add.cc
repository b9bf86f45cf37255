#include "engine/own_add.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <variant>

#include "engine/error.h"
#include "engine/own_conv.h"
#include "engine/quantization.h"

#define LOOKOUT_AVX2 __attribute__((target("avx2")))

namespace lookout::engine {

namespace {

// Elements per threadpool task.
constexpr size_t kTaskElements = 16384;

// out[i] = r.apply(a[i], b[i]) for i in [begin, end).
#if defined(__x86_64__)
LOOKOUT_AVX2 void add_range(const XnnAddRequantization& r, const uint8_t* a, const uint8_t* b, uint8_t* out,
                            size_t begin, size_t end) {
  const __m256i a_multiplier = _mm256_set1_epi32(r.a_multiplier), b_multiplier = _mm256_set1_epi32(r.b_multiplier);
  // bias + rounding in one add: int32 adds wrap, and the shift comes after all of them.
  const __m256i bias = _mm256_set1_epi32(
      static_cast<int32_t>(static_cast<uint32_t>(r.bias) + static_cast<uint32_t>(r.rounding)));
  const __m128i shift = _mm_cvtsi32_si128(r.shift);
  const __m256i zero_point = _mm256_set1_epi32(r.zero_point);
  const __m256i min = _mm256_set1_epi32(r.range.min), max = _mm256_set1_epi32(r.range.max);
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i y = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i acc = _mm256_add_epi32(
        _mm256_add_epi32(bias, _mm256_mullo_epi32(x, a_multiplier)), _mm256_mullo_epi32(y, b_multiplier));
    __m256i v = _mm256_add_epi32(_mm256_sra_epi32(acc, shift), zero_point);  // arithmetic, as >> on int32
    v = _mm256_min_epi32(_mm256_max_epi32(v, min), max);  // in [0, 255]: the packs below are exact
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words, words));
  }
  for (; i < end; ++i) out[i] = r.apply(a[i], b[i]);
}
#else
void add_range(const XnnAddRequantization&, const uint8_t*, const uint8_t*, uint8_t*, size_t, size_t) {
  throw Error("the AVX2 ADD kernel is not built for this architecture");
}
#endif

class OwnAdd final : public Kernel {
 public:
  OwnAdd(const OpContext& ctx, size_t count, const XnnAddRequantization& r, pthreadpool_t threadpool)
      : a_(ctx.input_index(0)), b_(ctx.input_index(1)), out_(ctx.output_index(0)), count_(count), r_(r),
        threadpool_(threadpool) {}

  void eval(const TensorBuffers& buffers) const override {
    const uint8_t* a = buffers.in<uint8_t>(a_);
    const uint8_t* b = buffers.in<uint8_t>(b_);
    uint8_t* out = buffers.out<uint8_t>(out_);
    if (threadpool_ == nullptr || count_ <= kTaskElements) {
      add_range(r_, a, b, out, 0, count_);
      return;
    }
    pthreadpool_parallelize_1d_tile_1d(
        threadpool_, [&](size_t begin, size_t n) { add_range(r_, a, b, out, begin, begin + n); }, count_,
        kTaskElements);
  }

 private:
  int32_t a_, b_, out_;
  size_t count_;
  XnnAddRequantization r_;
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

std::unique_ptr<Kernel> prepare_own_add(const OpContext& ctx, Isa isa, pthreadpool_t threadpool) {
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
  const XnnAddRequantization r =
      xnn_add_requantization(a.quant, b.quant, out.quant, xnn_activation_range_uint8(activation, out.quant));
  return std::make_unique<OwnAdd>(ctx, out.elements(), r, threadpool);
}

}  // namespace lookout::engine
