// Comparing two detection lists the way the correctness issues define it:
// every detection scoring >= min_score in `a` has one in `b` with the same
// class, a score within score_tol and every box coordinate within box_tol.
#pragma once

#include <cmath>
#include <sstream>
#include <string>

#include "detect/ssd_outputs.h"

namespace lookout::testing {

struct MatchTolerance {
  float min_score = 0.3f;
  float score_tol = 2.0f / 256.0f;
  float box_tol = 0.01f;
};

// Returns "" when matched, else a description of the first unmatched detection.
inline std::string unmatched(const detect::SsdOutputs& a, const detect::SsdOutputs& b, MatchTolerance tol,
                             const char* a_name, const char* b_name) {
  for (int i = 0; i < a.count; ++i) {
    if (a.scores[static_cast<size_t>(i)] < tol.min_score) continue;
    const auto& ab = a.boxes[static_cast<size_t>(i)];
    bool found = false;
    for (int j = 0; j < b.count && !found; ++j) {
      const auto& bb = b.boxes[static_cast<size_t>(j)];
      found = a.classes[static_cast<size_t>(i)] == b.classes[static_cast<size_t>(j)] &&
              std::fabs(a.scores[static_cast<size_t>(i)] - b.scores[static_cast<size_t>(j)]) <= tol.score_tol &&
              std::fabs(ab.ymin - bb.ymin) <= tol.box_tol && std::fabs(ab.xmin - bb.xmin) <= tol.box_tol &&
              std::fabs(ab.ymax - bb.ymax) <= tol.box_tol && std::fabs(ab.xmax - bb.xmax) <= tol.box_tol;
    }
    if (!found) {
      std::ostringstream s;
      s << a_name << " detection " << i << " (class " << a.classes[static_cast<size_t>(i)] << ", score "
        << a.scores[static_cast<size_t>(i)] << ", box " << ab.ymin << "," << ab.xmin << "," << ab.ymax << ","
        << ab.xmax << ") has no match in " << b_name;
      return s.str();
    }
  }
  return "";
}

inline std::string mismatch(const detect::SsdOutputs& a, const detect::SsdOutputs& b, MatchTolerance tol,
                            const char* a_name, const char* b_name) {
  std::string m = unmatched(a, b, tol, a_name, b_name);
  return m.empty() ? unmatched(b, a, tol, b_name, a_name) : m;
}

}  // namespace lookout::testing
