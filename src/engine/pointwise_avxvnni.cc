// The pointwise convolution's AVX-VNNI register tiles (pointwise_conv.h):
// the dot-product tile of pointwise_dot_tile.h (as at avx512vnni) on 256-bit
// vectors with the VEX-encoded vpdpbusd. Only the functions marked
// LOOKOUT_AVXVNNI (or LOOKOUT_AVX2, pointwise_tiles.h) are compiled for
// those instructions (per-function target attribute); they run only where
// isa_available(avxvnni).
//
// Register tile: 6 pixels x 2 vectors of 8 output channels = 12 int32
// accumulators, 2 filter vectors and a broadcast input: 15 of the 16 ymm.
#include "engine/pointwise_conv.h"


#include "engine/error.h"
#include "engine/pointwise_tiles.h"

#if defined(__x86_64__)
#define LOOKOUT_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define LOOKOUT_POINTWISE_TARGET LOOKOUT_AVXVNNI
#include "engine/pointwise_dot_tile.h"
#endif

namespace lookout::engine::pointwise_detail {

#if defined(__x86_64__)

namespace {

constexpr int kTile = 6;
constexpr int kChunk = 2;

struct Vex {
  using I = __m256i;
  static constexpr int kBlock = ymm::kBlock;
  static constexpr size_t kVectorBytes = 32;  // 8 channels x 4 input channels
  using Requant = ymm::RequantVectors;

  LOOKOUT_AVXVNNI static I zero() { return _mm256_setzero_si256(); }
  LOOKOUT_AVXVNNI static I load_filter(const int8_t* p) { return _mm256_load_si256(reinterpret_cast<const I*>(p)); }
  LOOKOUT_AVXVNNI static I load_column(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
  LOOKOUT_AVXVNNI static I broadcast(int32_t v) { return _mm256_set1_epi32(v); }
  LOOKOUT_AVXVNNI static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  // acc += 4-byte dot products of u8 x s8, per int32 lane. Inline asm with
  // acc as a read-write operand, as at avx512vnni (GCC 12's intrinsic copies
  // the accumulator per call); "x": ymm0-15, the registers VEX encodes;
  // %{vex%}: the VEX form, not AVX-512 VNNI's EVEX one.
  LOOKOUT_AVXVNNI static void dpbusd(I& acc, I u8, I s8) {
    asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "x"(s8));
  }
  LOOKOUT_AVXVNNI static Requant requant(const Fp32Requantization& r) { return ymm::requant_vectors(r); }
  LOOKOUT_AVXVNNI static void store(uint8_t* out, I total, const Requant& q, int32_t left) {
    ymm::store_block(out, ymm::requantize(total, q), left);
  }
};

// Sum of `n` bytes (vpsadbw: sums of 8 bytes), 32, 16, 8 then 4 at a time:
// the early layers have 16-32 input channels.
LOOKOUT_AVX2 inline int32_t byte_sum(const uint8_t* x, int32_t n) {
  const auto sad = [](__m128i v) { return _mm_sad_epu8(v, _mm_setzero_si128()); };  // SSE2: no target needed
  __m256i total = _mm256_setzero_si256();
  int32_t i = 0;
  for (; i + 32 <= n; i += 32)
    total = _mm256_add_epi64(
        total, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), _mm256_setzero_si256()));
  __m128i sum = _mm_add_epi64(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
  if (i + 16 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    i += 16;
  }
  if (i + 8 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i))));
    i += 8;
  }
  if (i + 4 <= n) {
    sum = _mm_add_epi64(sum, sad(_mm_cvtsi32_si128(static_cast<int32_t>(load_u32(x + i)))));
    i += 4;
  }
  int64_t bytes = _mm_cvtsi128_si64(sum) + _mm_extract_epi64(sum, 1);
  for (; i < n; ++i) bytes += x[i];
  return static_cast<int32_t>(bytes);
}

// A name of its own in each file: GCC 12 emits tile_fn<T, ...> as a weak
// symbol even for a T in an anonymous namespace, so two files' tiles of the
// same size would be merged at link time under one name.
template <int M, int N>
using VexTile = DotTile<Vex, M, N>;

}  // namespace

DotTiles avxvnni_dot_tiles() { return {&byte_sum, &tile_fn<VexTile, kTile, kChunk>}; }

#else

DotTiles avxvnni_dot_tiles() { throw Error("the AVX-VNNI pointwise kernel is not built for this architecture"); }

#endif  // __x86_64__

}  // namespace lookout::engine::pointwise_detail
