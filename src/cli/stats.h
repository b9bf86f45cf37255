// Summary statistics over per-image milliseconds, for the verbs that print
// them (`lookout detect`'s summary, `lookout bench`).
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

namespace lookout::cli {

// Nearest-rank percentile (p in [0,1]) of unsorted values; 0 for none.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

inline double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace lookout::cli
