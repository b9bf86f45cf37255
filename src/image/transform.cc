// Geometric edits on RGB8 images: crop and mirror (used to derive the lab's
// photo collections; see client/collections.h).
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "image/image.h"

namespace lookout::image {

namespace {

constexpr size_t kChannels = 3;

void check_consistent(const char* what, const Image& img) {
  if (img.width <= 0 || img.height <= 0 ||
      img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * kChannels)
    throw std::invalid_argument(std::string(what) + ": inconsistent image " + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + " with " + std::to_string(img.rgb.size()) + " bytes");
}

}  // namespace

Image crop(const Image& src, int x, int y, int width, int height) {
  check_consistent("crop", src);
  if (width <= 0 || height <= 0 || x < 0 || y < 0 || x > src.width - width || y > src.height - height)
    throw std::invalid_argument("crop: rectangle " + std::to_string(width) + "x" + std::to_string(height) + "+" +
                                std::to_string(x) + "+" + std::to_string(y) + " is not inside the " +
                                std::to_string(src.width) + "x" + std::to_string(src.height) + " image");
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * kChannels);
  const size_t row_bytes = static_cast<size_t>(width) * kChannels;
  const size_t src_stride = static_cast<size_t>(src.width) * kChannels;
  for (size_t r = 0; r < static_cast<size_t>(height); r++) {
    const uint8_t* from = src.rgb.data() + (static_cast<size_t>(y) + r) * src_stride + static_cast<size_t>(x) * kChannels;
    std::copy(from, from + row_bytes, out.rgb.data() + r * row_bytes);
  }
  return out;
}

Image flip_horizontal(const Image& src) {
  check_consistent("flip_horizontal", src);
  Image out = src;
  const size_t w = static_cast<size_t>(src.width);
  for (size_t r = 0; r < static_cast<size_t>(src.height); r++) {
    const uint8_t* from = src.rgb.data() + r * w * kChannels;
    uint8_t* to = out.rgb.data() + r * w * kChannels;
    for (size_t c = 0; c < w; c++) std::copy(from + c * kChannels, from + (c + 1) * kChannels, to + (w - 1 - c) * kChannels);
  }
  return out;
}

}  // namespace lookout::image
