// The instruction-set levels of the engine's own x86 kernels, chosen at run
// time from cpuinfo. `xnnpack` means none of ours: XNNPACK's kernels (its own
// dispatch) for every op it takes. A lower level can be forced
// (LOOKOUT_ISA, Options::isa), so one machine tests every level it can run.
#pragma once

#include <string>

namespace lookout::engine {

// avxvnni: AVX2 plus AVX-VNNI (the VEX-encoded 256-bit vpdpbusd: Alder Lake
// and later Intel client CPUs, Sierra Forest, Zen 5), no AVX-512 needed.
enum class Isa { xnnpack, avx2, avxvnni, avx512vnni };  // lowest first

const char* isa_name(Isa isa);
Isa parse_isa(const std::string& name);  // throws Error naming the choices

// Whether this CPU (and this build: x86 only) runs kernels of `isa`.
bool isa_available(Isa isa);
// The highest level available.
Isa best_isa();
// $LOOKOUT_ISA when set (throws Error when unknown or not available here),
// else best_isa().
Isa default_isa();
// Throws Error when `isa` is not available here.
void require_isa(Isa isa);

// The CPU's model name as cpuinfo reports it ("" when unknown).
std::string cpu_name();

}  // namespace lookout::engine
