#include "engine/isa.h"

#include <cpuinfo.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdlib>

#include "engine/error.h"

namespace lookout::engine {

namespace {

bool cpuinfo_ready() {
  static const bool ready = cpuinfo_initialize();
  return ready;
}

#if defined(__x86_64__)
// AVX-VNNI: CPUID leaf 7 subleaf 1, EAX bit 4 (Debian's cpuinfo of 2022 has
// no flag for it). The OS's YMM state support is the avx2 level's check.
bool cpu_has_avxvnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 4)) != 0;
}
#endif

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::xnnpack: return "xnnpack";
    case Isa::avx2: return "avx2";
    case Isa::avxvnni: return "avxvnni";
    case Isa::avx512vnni: return "avx512vnni";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::xnnpack, Isa::avx2, Isa::avxvnni, Isa::avx512vnni})
    if (name == isa_name(isa)) return isa;
  throw Error("unknown ISA level '" + name + "' (choose avx512vnni, avxvnni, avx2 or xnnpack)");
}

bool isa_available(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::xnnpack: return true;
    case Isa::avx2: return cpuinfo_ready() && cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3();
    case Isa::avxvnni: return isa_available(Isa::avx2) && cpu_has_avxvnni();
    case Isa::avx512vnni:
      return cpuinfo_ready() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
             cpuinfo_has_x86_avx512vl() && cpuinfo_has_x86_avx512vnni();
  }
  return false;
#else
  return isa == Isa::xnnpack;
#endif
}

Isa best_isa() {
  static const Isa best = [] {
    for (Isa isa : {Isa::avx512vnni, Isa::avxvnni, Isa::avx2})
      if (isa_available(isa)) return isa;
    return Isa::xnnpack;
  }();
  return best;
}

void require_isa(Isa isa) {
  if (!isa_available(isa))
    throw Error(std::string("ISA level ") + isa_name(isa) + " is not available on this CPU (" + cpu_name() +
                "); the highest here is " + isa_name(best_isa()));
}

Isa default_isa() {
  const char* forced = std::getenv("LOOKOUT_ISA");
  if (forced == nullptr || *forced == '\0') return best_isa();
  const Isa isa = parse_isa(forced);
  require_isa(isa);
  return isa;
}

std::string cpu_name() {
  if (!cpuinfo_ready() || cpuinfo_get_packages_count() == 0) return "";
  return cpuinfo_get_package(0)->name;
}

}  // namespace lookout::engine
