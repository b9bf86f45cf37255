// crop and flip_horizontal: small hand-made images, and the argument checks.
#include <gtest/gtest.h>

#include <stdexcept>

#include "image/image.h"

namespace lookout::image {
namespace {

// w x h image whose pixel (x, y) is (x, y, x + 10 * y).
Image coordinates(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      img.rgb.insert(img.rgb.end(), {static_cast<uint8_t>(x), static_cast<uint8_t>(y), static_cast<uint8_t>(x + 10 * y)});
  return img;
}

void expect_pixel(const Image& img, int x, int y, int r, int g, int b) {
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x)) * 3;
  EXPECT_EQ(img.rgb[i], r) << "R at " << x << "," << y;
  EXPECT_EQ(img.rgb[i + 1], g) << "G at " << x << "," << y;
  EXPECT_EQ(img.rgb[i + 2], b) << "B at " << x << "," << y;
}

TEST(Crop, CopiesTheRectangle) {
  const Image out = crop(coordinates(5, 4), 1, 2, 3, 2);
  ASSERT_EQ(out.width, 3);
  ASSERT_EQ(out.height, 2);
  ASSERT_EQ(out.rgb.size(), 3u * 2u * 3u);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++) expect_pixel(out, x, y, x + 1, y + 2, (x + 1) + 10 * (y + 2));
}

TEST(Crop, WholeImageIsACopy) {
  const Image src = coordinates(4, 3);
  EXPECT_EQ(crop(src, 0, 0, 4, 3).rgb, src.rgb);
}

TEST(Crop, RefusesRectanglesOutsideTheImage) {
  const Image src = coordinates(4, 3);
  EXPECT_THROW(crop(src, 1, 0, 4, 3), std::invalid_argument);
  EXPECT_THROW(crop(src, 0, 1, 4, 3), std::invalid_argument);
  EXPECT_THROW(crop(src, -1, 0, 2, 2), std::invalid_argument);
  EXPECT_THROW(crop(src, 0, 0, 0, 2), std::invalid_argument);
  Image bad = src;
  bad.rgb.pop_back();
  EXPECT_THROW(crop(bad, 0, 0, 1, 1), std::invalid_argument);
}

TEST(FlipHorizontal, MirrorsEveryRow) {
  const Image out = flip_horizontal(coordinates(5, 3));
  ASSERT_EQ(out.width, 5);
  ASSERT_EQ(out.height, 3);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++) expect_pixel(out, x, y, 4 - x, y, (4 - x) + 10 * y);
}

TEST(FlipHorizontal, TwiceIsIdentity) {
  const Image src = coordinates(7, 2);
  EXPECT_EQ(flip_horizontal(flip_horizontal(src)).rgb, src.rgb);
}

}  // namespace
}  // namespace lookout::image
