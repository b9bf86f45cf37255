// out[i] = table[in[i]] over a uint8 tensor: the uint8 LOGISTIC and
// CONCATENATION's requantization are 256-entry tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace lookout::engine {

// With AVX-512 VBMI, 64 bytes per step (two 128-entry permutes, the high
// bit choosing between them); else apply_byte_table_scalar. in == out is
// allowed; other overlaps are not.
void apply_byte_table(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count);

// The plain loop: the reference twin, and the path on CPUs without VBMI.
void apply_byte_table_scalar(std::span<const uint8_t, 256> table, const uint8_t* in, uint8_t* out, size_t count);

}  // namespace lookout::engine
