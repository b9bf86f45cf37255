// The pointwise convolution's AVX-512 VNNI register tiles (pointwise_conv.h):
// the dot-product tile of pointwise_dot_tile.h on zmm. Only the functions
// marked LOOKOUT_VNNI are compiled for AVX-512 (per-function target
// attribute, not a global -march flag, so nothing else changes code
// generation); they run only where isa_available(avx512vnni).
//
// Register tile: 8 pixels x 3 vectors of 16 output channels = 24 int32
// accumulators.
#include "engine/pointwise_conv.h"


#include "engine/error.h"
#include "engine/pointwise_tiles.h"

#if defined(__x86_64__)
#define LOOKOUT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define LOOKOUT_POINTWISE_TARGET LOOKOUT_VNNI
#include "engine/pointwise_dot_tile.h"
#endif

namespace lookout::engine::pointwise_detail {

#if defined(__x86_64__)

namespace {

constexpr int kTile = 8;
constexpr int kChunk = 3;

struct Zmm {
  using I = __m512i;
  static constexpr int kBlock = 16;
  static constexpr size_t kVectorBytes = 64;  // 16 channels x 4 input channels
  // The float constants of the requantization, one vector each.
  struct Requant {
    __m512 scale, min, max;
    __m512i zero_point;
  };

  LOOKOUT_VNNI static I zero() { return _mm512_setzero_si512(); }
  LOOKOUT_VNNI static I load_filter(const int8_t* p) { return _mm512_load_si512(p); }
  LOOKOUT_VNNI static I load_column(const int32_t* p) { return _mm512_loadu_si512(p); }
  LOOKOUT_VNNI static I broadcast(int32_t v) { return _mm512_set1_epi32(v); }
  LOOKOUT_VNNI static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  // acc += 4-byte dot products of u8 x s8, per int32 lane (vpdpbusd). Inline
  // asm with acc as a read-write operand: GCC 12's _mm512_dpbusd_epi32 gives
  // a register copy per call and spills the accumulator tile to the stack.
  LOOKOUT_VNNI static void dpbusd(I& acc, I u8, I s8) { asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8)); }

  LOOKOUT_VNNI static Requant requant(const Fp32Requantization& r) {
    return {_mm512_set1_ps(r.scale), _mm512_set1_ps(r.min_less_zero_point), _mm512_set1_ps(r.max_less_zero_point),
            _mm512_set1_epi32(r.zero_point)};
  }
  // Fp32Requantization::apply on 16 accumulators, the same float operations
  // in the same order: int32 -> float (round to nearest even, MXCSR
  // default), multiply, clamp (max then min, no NaN possible), round to
  // nearest even, + zero point. The result is in [0, 255], so truncating to
  // bytes is exact; a partial block is a masked store.
  LOOKOUT_VNNI static void store(uint8_t* out, I total, const Requant& q, int32_t left) {
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(total), q.scale);
    x = _mm512_min_ps(_mm512_max_ps(x, q.min), q.max);
    const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(x), q.zero_point));
    if (left >= kBlock)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    else
      _mm_mask_storeu_epi8(out, static_cast<__mmask16>((1u << left) - 1u), bytes);
  }
};

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

// A name of its own in each file: GCC 12 emits tile_fn<T, ...> as a weak
// symbol even for a T in an anonymous namespace, so two files' tiles of the
// same size would be merged at link time under one name.
template <int M, int N>
using ZmmTile = DotTile<Zmm, M, N>;

}  // namespace

DotTiles vnni_dot_tiles() { return {&byte_sum, &tile_fn<ZmmTile, kTile, kChunk>}; }

#else

DotTiles vnni_dot_tiles() { throw Error("the AVX-512 VNNI pointwise kernel is not built for this architecture"); }

#endif  // __x86_64__

}  // namespace lookout::engine::pointwise_detail
