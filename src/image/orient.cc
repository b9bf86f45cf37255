// EXIF orientation transforms: stored pixels -> upright pixels.
//
// The tag says where the stored image's 0th row and 0th column lie in the
// upright view (EXIF 2.3, Orientation). For an upright pixel (x, y) of a
// W x H upright image, the stored pixel it comes from, with the stored
// image w x h (W = w, H = h for 1-4; W = h, H = w for 5-8):
//   1 row top,    column left:   (x,         y)
//   2 row top,    column right:  (w-1-x,     y)          mirror horizontal
//   3 row bottom, column right:  (w-1-x,     h-1-y)      rotate 180
//   4 row bottom, column left:   (x,         h-1-y)      mirror vertical
//   5 row left,   column top:    (y,         x)          transpose
//   6 row right,  column top:    (y,         h-1-x)      rotate 90 CW
//   7 row right,  column bottom: (w-1-y,     h-1-x)      transverse
//   8 row left,   column bottom: (w-1-y,     x)          rotate 90 CCW
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "image/formats.h"

namespace lookout::image {

namespace {

constexpr size_t kChannels = 3;

// The stored pixel (sx, sy) that the upright pixel (x, y) shows.
struct Source {
  size_t sx, sy;
};

Source source_of(int orientation, size_t x, size_t y, size_t w, size_t h) {
  switch (orientation) {
    case 2: return {w - 1 - x, y};
    case 3: return {w - 1 - x, h - 1 - y};
    case 4: return {x, h - 1 - y};
    case 5: return {y, x};
    case 6: return {y, h - 1 - x};
    case 7: return {w - 1 - y, h - 1 - x};
    case 8: return {w - 1 - y, x};
    default: return {x, y};
  }
}

}  // namespace

bool orientation_swaps_axes(int orientation) { return orientation >= 5 && orientation <= kOrientationMax; }

Image apply_orientation(const Image& stored, int orientation) {
  if (orientation < kOrientationNormal || orientation > kOrientationMax) {
    throw std::invalid_argument("apply_orientation: EXIF orientation " + std::to_string(orientation) +
                                " is not one of 1-8");
  }
  if (stored.width < 0 || stored.height < 0 ||
      stored.rgb.size() != static_cast<size_t>(stored.width) * static_cast<size_t>(stored.height) * kChannels) {
    throw std::invalid_argument("apply_orientation: image " + std::to_string(stored.width) + "x" +
                                std::to_string(stored.height) + " has " + std::to_string(stored.rgb.size()) +
                                " bytes, not width * height * 3");
  }
  if (orientation == kOrientationNormal) return stored;

  const size_t w = static_cast<size_t>(stored.width), h = static_cast<size_t>(stored.height);
  Image out;
  const bool swap = orientation_swaps_axes(orientation);
  out.width = swap ? stored.height : stored.width;
  out.height = swap ? stored.width : stored.height;
  out.rgb.resize(stored.rgb.size());
  const size_t ow = static_cast<size_t>(out.width), oh = static_cast<size_t>(out.height);
  for (size_t y = 0; y < oh; y++) {
    uint8_t* dst = out.rgb.data() + y * ow * kChannels;
    for (size_t x = 0; x < ow; x++) {
      const Source s = source_of(orientation, x, y, w, h);
      std::memcpy(dst + x * kChannels, stored.rgb.data() + (s.sy * w + s.sx) * kChannels, kChannels);
    }
  }
  return out;
}

}  // namespace lookout::image
