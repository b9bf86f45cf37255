// Where the full-model tests find the model, the photos and the oracle's
// dumps. scripts/setup puts the first two in place; the oracle_dump test
// (CMakeLists.txt) writes the third before the parity tests run.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lookout::testing {

inline std::filesystem::path source_dir() { return LOOKOUT_SOURCE_DIR; }
inline std::filesystem::path model_path() {
  return source_dir() / "models/mobilenet_ssd_v2_coco_quant_postprocess.tflite";
}
inline std::filesystem::path oracle_dir() { return LOOKOUT_ORACLE_DIR; }

inline std::vector<std::filesystem::path> small_photos() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;  // no photos (setup not run) -> no cases, which gtest reports
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / "data/small", ec))
    if (e.path().extension() == ".jpg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Under ASan/UBSan the full-model suites run on fewer photos: same code paths,
// a fraction of the time.
#ifdef LOOKOUT_SANITIZED
constexpr bool sanitized() { return true; }
#else
constexpr bool sanitized() { return false; }
#endif

}  // namespace lookout::testing
