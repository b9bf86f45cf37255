// decode(): sniffs the format, routes the bytes to its decoder (which checks
// the declared size against the pixel limit before decoding), then applies
// the EXIF orientation.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <utility>

#include "image/formats.h"
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

void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels) {
  // Both sides come from 16- or 32-bit header fields: the product fits in 64 bits.
  const uint64_t pixels = width * height;
  if (pixels <= max_pixels) return;
  throw TooLargeError("image declares " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                      std::to_string(pixels) + " pixels, more than the " + std::to_string(max_pixels) +
                      " allowed (--max-pixels)");
}

Decoded decode(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  if (options.min_width < 0 || options.min_height < 0) {
    throw std::invalid_argument("decode: minimum size " + std::to_string(options.min_width) + "x" +
                                std::to_string(options.min_height) + " must not be negative");
  }
  if (bytes.empty()) throw DecodeError("empty file");

  Decoded out;
  StoredImage stored;
  if (starts_with(bytes, kJpegMagic)) {
    out.format = "jpeg";
    stored = decode_jpeg_stored(bytes, options);
  } else if (starts_with(bytes, kPngMagic)) {
    out.format = "png";
    stored = decode_png(bytes, options);
  } else {
    throw DecodeError("not an image: the file starts with " + hex_prefix(bytes) + " (" +
                      std::to_string(bytes.size()) +
                      " bytes), which is neither JPEG (ff d8 ff) nor PNG (89 50 4e 47 0d 0a 1a 0a)");
  }

  out.orientation = stored.orientation;
  const bool orient = options.apply_orientation && stored.orientation != kOrientationNormal;
  const bool swap = orient && orientation_swaps_axes(stored.orientation);
  out.full_width = swap ? stored.full_height : stored.full_width;
  out.full_height = swap ? stored.full_width : stored.full_height;
  out.image = orient ? apply_orientation(stored.image, stored.orientation) : std::move(stored.image);
  return out;
}

Image decode_image(std::span<const uint8_t> bytes, int min_width, int min_height) {
  DecodeOptions options;
  options.min_width = min_width;
  options.min_height = min_height;
  return decode(bytes, options).image;
}

}  // namespace lookout::image
