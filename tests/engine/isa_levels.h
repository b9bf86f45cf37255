// The ISA levels of the engine's own kernels a test runs at: every level
// this CPU has. The others are reported as skipped in the test's output and
// its XML properties, never passed silently.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "engine/isa.h"

namespace lookout::engine::testing {

inline constexpr Isa kAllIsaLevels[] = {Isa::xnnpack, Isa::avx2, Isa::avxvnni, Isa::avx512vnni};

// The levels among `wanted` this CPU runs, lowest first.
inline std::vector<Isa> runnable_isa_levels(std::vector<Isa> wanted = {std::begin(kAllIsaLevels),
                                                                        std::end(kAllIsaLevels)}) {
  std::vector<Isa> levels;
  for (Isa isa : wanted) {
    if (isa_available(isa)) {
      levels.push_back(isa);
      continue;
    }
    std::cout << "[  SKIPPED ] ISA level " << isa_name(isa) << ": this CPU (" << cpu_name() << ") lacks it\n";
    ::testing::Test::RecordProperty(std::string("skipped_isa_") + isa_name(isa), "the CPU lacks it");
  }
  return levels;
}

}  // namespace lookout::engine::testing
