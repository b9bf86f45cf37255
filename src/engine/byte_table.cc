#include "engine/byte_table.h"

#if defined(__x86_64__)
#include <cpuinfo.h>
#include <immintrin.h>
#endif

#include "engine/error.h"

namespace lookout::engine {

void apply_byte_table_scalar(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count) {
  for (size_t i = 0; i < count; ++i) out[i] = table[in[i]];
}

#if defined(__x86_64__)
namespace {

// Per-function target, as in pointwise_vnni.cc: nothing else is built for VBMI.
#define LOOKOUT_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

struct Table512 {
  __m512i quarter[4];  // entries 0-63, 64-127, 128-191, 192-255
};

LOOKOUT_VBMI inline __m512i lookup_64(const Table512& t, __m512i x) {
  // Index bits 0-6 pick one of 128 entries (bit 6: the second register);
  // bit 7 picks the upper half of the table.
  const __m512i low = _mm512_permutex2var_epi8(t.quarter[0], x, t.quarter[1]);
  const __m512i high = _mm512_permutex2var_epi8(t.quarter[2], x, t.quarter[3]);
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high);
}

LOOKOUT_VBMI void lookup_vbmi(const uint8_t* table, const uint8_t* in, uint8_t* out, size_t count) {
  Table512 t;
  for (size_t q = 0; q < 4; ++q) t.quarter[q] = _mm512_loadu_si512(table + 64 * q);
  size_t i = 0;
  for (; i + 64 <= count; i += 64) _mm512_storeu_si512(out + i, lookup_64(t, _mm512_loadu_si512(in + i)));
  if (i < count) {
    const __mmask64 rest = _cvtu64_mask64((uint64_t{1} << (count - i)) - 1);
    _mm512_mask_storeu_epi8(out + i, rest, lookup_64(t, _mm512_maskz_loadu_epi8(rest, in + i)));
  }
}

}  // namespace
#endif

bool byte_table_vbmi_available() {
#if defined(__x86_64__)
  static const bool has = cpuinfo_initialize() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
                          cpuinfo_has_x86_avx512vbmi();
  return has;
#else
  return false;
#endif
}

void apply_byte_table_vbmi(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count) {
  if (!byte_table_vbmi_available()) throw Error("the AVX-512 VBMI table lookup needs a CPU with AVX-512 VBMI");
#if defined(__x86_64__)
  lookup_vbmi(table.data(), in, out, count);
#endif
}

ByteTableFn byte_table_for(Isa isa) {
  return isa == Isa::avx512vnni && byte_table_vbmi_available() ? &apply_byte_table_vbmi : &apply_byte_table_scalar;
}

const char* byte_table_kernel_name(Isa isa) {
  return byte_table_for(isa) == &apply_byte_table_vbmi ? "avx512vbmi" : "reference";
}

}  // namespace lookout::engine
