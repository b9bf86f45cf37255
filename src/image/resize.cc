// Bilinear resize, half-pixel centres, float64 (see image.h for the formula).
// Prepare: per output column and row, the two source indices and the weight.
// Eval: the same arithmetic, in the same order, as the TFLite oracle's
// resizeBilinear (tests/oracle/oracle.js), so results match it bit for bit.
// (Built without -ffast-math and without FMA contraction across the mix, as
// the default x86-64 target guarantees; -march=native with -ffp-contract=fast
// could fuse the multiply-adds and move a rare .5 rounding by one.)
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace lookout::image {

namespace {

constexpr size_t kChannels = 3;

// One output coordinate's source taps along an axis.
struct Tap {
  size_t i0 = 0, i1 = 0;  // source indices (pixels)
  double f = 0.0;         // weight of i1; i0 gets 1 - f
};

std::vector<Tap> axis_taps(int src, int out) {
  const double scale = static_cast<double>(src) / static_cast<double>(out);
  std::vector<Tap> taps(static_cast<size_t>(out));
  for (int o = 0; o < out; o++) {
    double v = (o + 0.5) * scale - 0.5;
    if (v < 0) v = 0;
    int i0 = static_cast<int>(std::floor(v));
    if (i0 > src - 1) i0 = src - 1;
    Tap& t = taps[static_cast<size_t>(o)];
    t.i0 = static_cast<size_t>(i0);
    t.i1 = static_cast<size_t>(std::min(i0 + 1, src - 1));
    t.f = i0 == src - 1 ? 0.0 : std::min(v - i0, 1.0);
  }
  return taps;
}

void check_size(const char* what, int w, int h) {
  if (w <= 0 || h <= 0) {
    throw std::invalid_argument(std::string("resize_bilinear: ") + what + " size " + std::to_string(w) + "x" +
                                std::to_string(h) + " must be positive");
  }
}

}  // namespace

Image resize_bilinear(const Image& src, int out_width, int out_height) {
  check_size("source", src.width, src.height);
  check_size("output", out_width, out_height);
  const size_t sw = static_cast<size_t>(src.width);
  const size_t expected = sw * static_cast<size_t>(src.height) * kChannels;
  if (src.rgb.size() != expected) {
    throw std::invalid_argument("resize_bilinear: source " + std::to_string(src.width) + "x" +
                                std::to_string(src.height) + " RGB needs " + std::to_string(expected) +
                                " bytes, has " + std::to_string(src.rgb.size()));
  }

  // Prepare: column taps as byte offsets within a row, row taps as row indices.
  std::vector<Tap> xs = axis_taps(src.width, out_width);
  for (Tap& t : xs) {
    t.i0 *= kChannels;
    t.i1 *= kChannels;
  }
  const std::vector<Tap> ys = axis_taps(src.height, out_height);

  Image out;
  out.width = out_width;
  out.height = out_height;
  out.rgb.resize(static_cast<size_t>(out_width) * static_cast<size_t>(out_height) * kChannels);

  // Eval, in two passes with the same arithmetic: each needed source row is
  // interpolated along x once (top = (1 - fx) * P[x0] + fx * P[x1]) into a
  // row cache, then rows are mixed along y over contiguous doubles.
  // Consecutive output rows mostly share source rows. A row pair is always
  // (r, r + 1) or (r, r), so caching row r in slot r % 2 never evicts the
  // other row of the pair.
  const size_t row_len = static_cast<size_t>(out_width) * kChannels;
  std::vector<double> cache(2 * row_len);
  size_t cached[2] = {SIZE_MAX, SIZE_MAX};  // source row held by each slot
  const uint8_t* p = src.rgb.data();
  auto x_pass = [&](size_t sy) -> const double* {
    const size_t slot = sy % 2;
    double* d = &cache[slot * row_len];
    if (cached[slot] == sy) return d;
    cached[slot] = sy;
    const uint8_t* row = p + sy * sw * kChannels;
    for (const Tap& x : xs) {
      const double fx = x.f, gx = 1 - x.f;
      for (size_t c = 0; c < kChannels; c++) d[c] = gx * row[x.i0 + c] + fx * row[x.i1 + c];
      d += kChannels;
    }
    return &cache[slot * row_len];
  };

  uint8_t* dst = out.rgb.data();
  for (const Tap& y : ys) {
    const double* top = x_pass(y.i0);
    const double* bottom = x_pass(y.i1);
    const double fy = y.f, gy = 1 - y.f;
    for (size_t i = 0; i < row_len; i++) {
      // Weights are in [0, 1], so v >= 0.5 and truncation is floor.
      const double v = gy * top[i] + fy * bottom[i] + 0.5;
      const int q = static_cast<int>(v);
      dst[i] = static_cast<uint8_t>(q < 255 ? q : 255);
    }
    dst += row_len;
  }
  return out;
}

}  // namespace lookout::image
