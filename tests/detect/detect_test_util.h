// Helpers shared by the detector tests: the real model and photos on disk
// (scripts/setup puts them in place), one shared Model and Labels, box
// arithmetic.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "detect/detector.h"

#ifndef LOOKOUT_SOURCE_DIR
#define LOOKOUT_SOURCE_DIR "."  // run from the repository root
#endif

namespace lookout::detect::testing {

inline std::filesystem::path source_dir() { return LOOKOUT_SOURCE_DIR; }
inline std::filesystem::path photo_dir() { return source_dir() / "data" / "small"; }
inline std::filesystem::path model_path() { return source_dir() / kDefaultModel; }
inline std::filesystem::path labels_path() { return source_dir() / kDefaultLabels; }

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Loaded once for the whole test binary (a Model is immutable and shareable).
inline std::shared_ptr<const engine::Model> real_model() {
  static const std::shared_ptr<const engine::Model> model = engine::Model::from_file(model_path());
  return model;
}
inline std::shared_ptr<const Labels> real_labels() {
  static const std::shared_ptr<const Labels> labels = Labels::from_file(labels_path());
  return labels;
}

// Skips the test when scripts/setup has not fetched the model and photos.
#define LOOKOUT_REQUIRE_MODEL()                                                                         \
  if (!std::filesystem::exists(::lookout::detect::testing::model_path()) ||                           \
      !std::filesystem::exists(::lookout::detect::testing::labels_path()))                            \
  GTEST_SKIP() << "model or labels missing under " << ::lookout::detect::testing::source_dir()        \
               << "/models: run scripts/setup"

#define LOOKOUT_DETECT_PHOTO(var, name)                                                           \
  const std::filesystem::path var##_path = ::lookout::detect::testing::photo_dir() / (name);   \
  if (!std::filesystem::exists(var##_path)) GTEST_SKIP() << var##_path << " missing: run scripts/setup"; \
  const std::vector<uint8_t> var = ::lookout::detect::testing::read_bytes(var##_path)

inline std::vector<std::filesystem::path> all_photos() {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(photo_dir())) return out;
  for (const auto& e : std::filesystem::directory_iterator(photo_dir()))
    if (e.is_regular_file() && e.path().extension() == ".jpg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline float area(const Box& b) { return std::max(0.0f, b.xmax - b.xmin) * std::max(0.0f, b.ymax - b.ymin); }

inline float iou(const Box& a, const Box& b) {
  const Box i{std::max(a.xmin, b.xmin), std::max(a.ymin, b.ymin), std::min(a.xmax, b.xmax), std::min(a.ymax, b.ymax)};
  const float inter = area(i);
  const float uni = area(a) + area(b) - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

inline float max_coord_diff(const Box& a, const Box& b) {
  return std::max({std::abs(a.xmin - b.xmin), std::abs(a.ymin - b.ymin), std::abs(a.xmax - b.xmax),
                   std::abs(a.ymax - b.ymax)});
}

inline std::string to_string(const Box& b) {
  std::ostringstream s;
  s.precision(3);
  s << "(" << b.xmin << "," << b.ymin << " - " << b.xmax << "," << b.ymax << ")";
  return s.str();
}

// "dog 0.97 (0.17,0.39 - 0.42,0.95); ..." for failure messages.
inline std::string describe(const std::vector<Detection>& ds) {
  std::ostringstream s;
  s.precision(3);
  for (const Detection& d : ds) s << d.label << " " << d.score << " " << to_string(d.box) << "; ";
  return s.str();
}

}  // namespace lookout::detect::testing
