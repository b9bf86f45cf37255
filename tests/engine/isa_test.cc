// The ISA levels: names round-trip through parse_isa, unknown names are
// refused naming the choices, and the detection is consistent (each level
// implies what its kernels also use; AVX-VNNI, read from CPUID by hand,
// agrees with GCC's own CPU detection).
#include "engine/isa.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"
#include "engine/isa_levels.h"

namespace lookout::engine {
namespace {

using testing::kAllIsaLevels;

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : kAllIsaLevels) EXPECT_EQ(parse_isa(isa_name(isa)), isa) << isa_name(isa);
  EXPECT_STREQ(isa_name(Isa::avxvnni), "avxvnni");
}

TEST(Isa, UnknownNameIsRefusedNamingTheChoices) {
  try {
    parse_isa("avx512");
    FAIL() << "avx512 accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown ISA level 'avx512' (choose avx512vnni, avxvnni, avx2 or xnnpack)");
  }
}

// Every level but xnnpack runs AVX2 kernels (depthwise, ADD) beside its
// pointwise tile, so each implies avx2; best_isa is the highest available.
TEST(Isa, DetectionIsConsistent) {
  EXPECT_TRUE(isa_available(Isa::xnnpack));
  EXPECT_TRUE(!isa_available(Isa::avxvnni) || isa_available(Isa::avx2));
  EXPECT_TRUE(!isa_available(Isa::avx512vnni) || isa_available(Isa::avx2));
  EXPECT_TRUE(isa_available(best_isa()));
  for (Isa isa : kAllIsaLevels) {
    SCOPED_TRACE(isa_name(isa));
    if (isa_available(isa)) {
      EXPECT_GE(static_cast<int>(best_isa()), static_cast<int>(isa));
      EXPECT_NO_THROW(require_isa(isa));
    } else {
      EXPECT_THROW(require_isa(isa), Error);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)  // clang 14 lacks "avxvnni" here
// CPUID leaf 7 subleaf 1 EAX bit 4, read by isa.cc, against libgcc's
// detection (which also checks the OS saves the YMM state).
TEST(Isa, AvxVnniAgreesWithTheCompilersDetection) {
  __builtin_cpu_init();
  const bool gcc_says = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                        __builtin_cpu_supports("avxvnni");
  EXPECT_EQ(isa_available(Isa::avxvnni), gcc_says) << cpu_name();
}
#endif

}  // namespace
}  // namespace lookout::engine
