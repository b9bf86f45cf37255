// Helpers shared by the image tests: test photos on disk and JPEGs made at
// test time with TurboJPEG's compressor.
#pragma once

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef LOOKOUT_SOURCE_DIR
#define LOOKOUT_SOURCE_DIR "."  // run from the repository root
#endif

namespace lookout::image::testing {

// The photos scripts/setup puts in data/small/ (not in git).
inline std::filesystem::path photo_dir() { return std::filesystem::path(LOOKOUT_SOURCE_DIR) / "data" / "small"; }

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Skips the test when the photo is missing (scripts/setup not run).
#define LOOKOUT_LOAD_PHOTO(var, name)                                                          \
  const std::filesystem::path var##_path = ::lookout::image::testing::photo_dir() / (name);    \
  if (!std::filesystem::exists(var##_path)) GTEST_SKIP() << var##_path << " missing: run scripts/setup"; \
  const std::vector<uint8_t> var = ::lookout::image::testing::read_bytes(var##_path)

// Compresses packed pixels (pixel format pf: TJPF_RGB, TJPF_GRAY, TJPF_CMYK).
inline std::vector<uint8_t> compress_jpeg(const std::vector<uint8_t>& pixels, int w, int h, int pf, int subsamp,
                                          int quality) {
  tjhandle c = tjInitCompress();
  if (c == nullptr) throw std::runtime_error("tjInitCompress failed");
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(c, pixels.data(), w, 0, h, pf, &buf, &size, subsamp, quality, TJFLAG_ACCURATEDCT);
  const std::string err = rc == 0 ? "" : tjGetErrorStr2(c);
  std::vector<uint8_t> out;
  if (rc == 0) out.assign(buf, buf + size);
  tjFree(buf);
  tjDestroy(c);
  if (rc != 0) throw std::runtime_error("tjCompress2: " + err);
  return out;
}

// Full-size RGB decode straight through TurboJPEG, as an independent oracle.
inline std::vector<uint8_t> tj_decode_rgb(const std::vector<uint8_t>& jpeg, int* w, int* h) {
  tjhandle d = tjInitDecompress();
  int subsamp = 0, cs = 0;
  auto* src = const_cast<unsigned char*>(jpeg.data());
  std::vector<uint8_t> out;
  if (tjDecompressHeader3(d, src, jpeg.size(), w, h, &subsamp, &cs) == 0) {
    out.resize(static_cast<size_t>(*w) * static_cast<size_t>(*h) * 3);
    if (tjDecompress2(d, src, jpeg.size(), out.data(), *w, 0, *h, TJPF_RGB, 0) != 0) out.clear();
  }
  tjDestroy(d);
  if (out.empty()) throw std::runtime_error("tj_decode_rgb failed");
  return out;
}

}  // namespace lookout::image::testing
