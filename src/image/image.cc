// Format sniffing: routes the bytes to the right decoder.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "image/image.h"

namespace lookout::image {

namespace {

constexpr std::array<uint8_t, 3> kJpegMagic = {0xFF, 0xD8, 0xFF};
constexpr std::array<uint8_t, 8> kPngMagic = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

template <size_t N>
bool starts_with(std::span<const uint8_t> bytes, const std::array<uint8_t, N>& magic) {
  if (bytes.size() < N) return false;
  for (size_t i = 0; i < N; i++) {
    if (bytes[i] != magic[i]) return false;
  }
  return true;
}

// "ff d8 00 12 ..." for the first (up to) 8 bytes.
std::string hex_prefix(std::span<const uint8_t> bytes) {
  std::string s;
  const size_t n = std::min<size_t>(bytes.size(), 8);
  for (size_t i = 0; i < n; i++) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%s%02x", i == 0 ? "" : " ", bytes[i]);
    s += buf;
  }
  if (bytes.size() > n) s += " ...";
  return s;
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, int min_width, int min_height) {
  if (bytes.empty()) throw DecodeError("empty file");
  if (starts_with(bytes, kJpegMagic)) return decode_jpeg(bytes, min_width, min_height);
  if (starts_with(bytes, kPngMagic)) throw DecodeError("PNG support is not built yet");
  throw DecodeError("not an image: the file starts with " + hex_prefix(bytes) + " (" + std::to_string(bytes.size()) +
                    " bytes), which is neither JPEG (ff d8 ff) nor PNG (89 50 4e 47 0d 0a 1a 0a)");
}

}  // namespace lookout::image
