// out[i] = table[in[i]] over a uint8 tensor: the uint8 LOGISTIC and
// CONCATENATION's requantization are 256-entry tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/isa.h"

namespace lookout::engine {

using ByteTableFn = void (*)(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count);

// The plain loop: the spec, and the lookup below level avx512vnni.
void apply_byte_table_scalar(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count);

// Whether this CPU (and build) has AVX-512 VBMI.
bool byte_table_vbmi_available();
// 64 bytes per step (two 128-entry permutes, the high bit choosing between
// them). Only where byte_table_vbmi_available(); in == out is allowed, other
// overlaps are not.
void apply_byte_table_vbmi(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count);

// The lookup a kernel at ISA level `isa` runs: VBMI at avx512vnni on a CPU
// that has it, else the plain loop. So a forced lower level (LOOKOUT_ISA)
// runs what a CPU of that level runs, and the reference backend (xnnpack:
// none of ours) the plain loop.
ByteTableFn byte_table_for(Isa isa);
// "avx512vbmi" or "reference", for profiles.
const char* byte_table_kernel_name(Isa isa);

}  // namespace lookout::engine
