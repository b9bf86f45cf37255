// resize_bilinear: hand-computed cases, and the fast path against a literal
// per-pixel transcription of the oracle's formula on fixed-seed shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "image/image.h"

namespace lookout::image {
namespace {

Image make(int w, int h, std::vector<uint8_t> rgb) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb = std::move(rgb);
  return img;
}

// One channel value per pixel, in R; G and B constant (7 and 200).
Image from_gray(int w, int h, const std::vector<int>& v) {
  std::vector<uint8_t> rgb;
  for (int x : v) rgb.insert(rgb.end(), {static_cast<uint8_t>(x), 7, 200});
  return make(w, h, rgb);
}

void expect_gray(const Image& img, int w, int h, const std::vector<int>& want) {
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  ASSERT_EQ(img.rgb.size(), want.size() * 3);
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(img.rgb[3 * i], want[i]) << "R at " << i % static_cast<size_t>(w) << "," << i / static_cast<size_t>(w);
    EXPECT_EQ(img.rgb[3 * i + 1], 7) << "G at " << i;
    EXPECT_EQ(img.rgb[3 * i + 2], 200) << "B at " << i;
  }
}

Image random_image(int w, int h, std::mt19937& rng) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  for (auto& b : rgb) b = static_cast<uint8_t>(rng());
  return make(w, h, rgb);
}

// The oracle's resizeBilinear (tests/oracle/oracle.js), line for line.
Image reference_resize(const Image& src, int dw, int dh) {
  struct Axis { int i0, i1; double f; };
  auto axis = [](int o, int s, int d) {
    double v = (o + 0.5) * (static_cast<double>(s) / d) - 0.5;
    if (v < 0) v = 0;
    int i0 = static_cast<int>(std::floor(v));
    if (i0 > s - 1) i0 = s - 1;
    return Axis{i0, std::min(i0 + 1, s - 1), i0 == s - 1 ? 0 : std::min(v - i0, 1.0)};
  };
  auto at = [&](int y, int x, int ch) {
    return static_cast<double>(src.rgb[(static_cast<size_t>(y) * static_cast<size_t>(src.width) + static_cast<size_t>(x)) * 3 +
                                       static_cast<size_t>(ch)]);
  };
  Image out = make(dw, dh, std::vector<uint8_t>(static_cast<size_t>(dw) * static_cast<size_t>(dh) * 3));
  for (int oy = 0; oy < dh; oy++) {
    const Axis ay = axis(oy, src.height, dh);
    for (int ox = 0; ox < dw; ox++) {
      const Axis ax = axis(ox, src.width, dw);
      for (int ch = 0; ch < 3; ch++) {
        const double top = (1 - ax.f) * at(ay.i0, ax.i0, ch) + ax.f * at(ay.i0, ax.i1, ch);
        const double bot = (1 - ax.f) * at(ay.i1, ax.i0, ch) + ax.f * at(ay.i1, ax.i1, ch);
        const double v = std::floor((1 - ay.f) * top + ay.f * bot + 0.5);
        out.rgb[(static_cast<size_t>(oy) * static_cast<size_t>(dw) + static_cast<size_t>(ox)) * 3 + static_cast<size_t>(ch)] =
            static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
  return out;
}

// 2x2 -> 4x4: weights per axis are (1,0), (.75,.25), (.25,.75), (0,1).
TEST(ResizeBilinear, Upscale2x2To4x4) {
  const Image src = from_gray(2, 2, {0, 100,
                                     200, 40});
  // Rows 0 and 3 are the source rows interpolated; rows 1 and 2 mix them
  // .75/.25 and .25/.75 (58.75 -> 59, 76.25 -> 76, 126.25 -> 126, 78.75 -> 79).
  expect_gray(resize_bilinear(src, 4, 4), 4, 4,
              {0, 25, 75, 100,
               50, 59, 76, 85,
               150, 126, 79, 55,
               200, 160, 80, 40});
}

// 4x4 -> 2x2: each output is the mean of a 2x2 block, rounded half up.
TEST(ResizeBilinear, Downscale4x4To2x2AveragesBlocks) {
  const Image src = from_gray(4, 4, {1, 2, 10, 11,
                                     3, 4, 10, 12,
                                     0, 0, 255, 255,
                                     0, 1, 255, 254});
  // (1+2+3+4)/4 = 2.5 -> 3; 43/4 = 10.75 -> 11; 1/4 -> 0; 1019/4 = 254.75 -> 255.
  expect_gray(resize_bilinear(src, 2, 2), 2, 2, {3, 11, 0, 255});
}

TEST(ResizeBilinear, NonSquareHandCase) {
  // 3x1 -> 2x1: scale 1.5; ox=0 -> sx=0.25, ox=1 -> sx=1.75.
  const Image src = from_gray(3, 1, {0, 100, 200});
  expect_gray(resize_bilinear(src, 2, 1), 2, 1, {25, 175});
}

TEST(ResizeBilinear, OnePixelImage) {
  const Image one = make(1, 1, {12, 34, 56});
  const Image big = resize_bilinear(one, 5, 3);
  ASSERT_EQ(big.rgb.size(), 5u * 3u * 3u);
  for (size_t i = 0; i < big.rgb.size(); i += 3) {
    EXPECT_EQ(big.rgb[i], 12);
    EXPECT_EQ(big.rgb[i + 1], 34);
    EXPECT_EQ(big.rgb[i + 2], 56);
  }
  EXPECT_EQ(resize_bilinear(one, 1, 1).rgb, one.rgb);
  // 5x3 -> 1x1: sx = 0.5 * 5 - 0.5 = 2, sy = 0.5 * 3 - 0.5 = 1: the centre pixel.
  const Image src = from_gray(5, 3, {0, 1, 2, 3, 4,
                                     5, 6, 77, 8, 9,
                                     10, 11, 12, 13, 14});
  expect_gray(resize_bilinear(src, 1, 1), 1, 1, {77});
}

TEST(ResizeBilinear, SameSizeIsIdentical) {
  std::mt19937 rng(1234);
  for (auto [w, h] : {std::pair{1, 1}, std::pair{37, 23}, std::pair{300, 300}, std::pair{2, 101}}) {
    const Image src = random_image(w, h, rng);
    const Image out = resize_bilinear(src, w, h);
    EXPECT_EQ(out.width, w);
    EXPECT_EQ(out.height, h);
    EXPECT_EQ(out.rgb, src.rgb) << w << "x" << h;
  }
}

TEST(ResizeBilinear, MatchesReferenceOnRandomShapes) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> dim(1, 97);
  for (int trial = 0; trial < 200; trial++) {
    const int sw = dim(rng), sh = dim(rng), dw = dim(rng), dh = dim(rng);
    const Image src = random_image(sw, sh, rng);
    const Image got = resize_bilinear(src, dw, dh);
    const Image want = reference_resize(src, dw, dh);
    ASSERT_EQ(got.rgb, want.rgb) << sw << "x" << sh << " -> " << dw << "x" << dh;
  }
  // The production shapes: scaled decodes to the 300x300 model input.
  for (auto [w, h] : {std::pair{480, 360}, std::pair{500, 375}, std::pair{320, 240}, std::pair{768, 576}}) {
    const Image src = random_image(w, h, rng);
    ASSERT_EQ(resize_bilinear(src, 300, 300).rgb, reference_resize(src, 300, 300).rgb) << w << "x" << h;
  }
}

TEST(ResizeBilinear, RejectsBadArguments) {
  const Image ok = make(2, 2, std::vector<uint8_t>(12));
  EXPECT_THROW(resize_bilinear(ok, 0, 5), std::invalid_argument);
  EXPECT_THROW(resize_bilinear(ok, 5, -1), std::invalid_argument);
  EXPECT_THROW(resize_bilinear(Image{}, 5, 5), std::invalid_argument);
  EXPECT_THROW(resize_bilinear(make(2, 2, std::vector<uint8_t>(11)), 5, 5), std::invalid_argument);
}

}  // namespace
}  // namespace lookout::image
