// EXIF orientation: the TIFF reader (both byte orders, malformed blocks),
// the JPEG marker scan, and the eight transforms against hand-worked cases.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "exif_fixture.h"
#include "image/formats.h"
#include "image/image.h"
#include "image_test_util.h"

namespace lookout::image {
namespace {

using testing::exif_tiff;

// Writes v at `at` in the block's byte order.
void poke16(std::vector<uint8_t>& t, size_t at, uint16_t v, bool be) {
  t[at] = static_cast<uint8_t>(be ? v >> 8 : v);
  t[at + 1] = static_cast<uint8_t>(be ? v : v >> 8);
}
void poke32(std::vector<uint8_t>& t, size_t at, uint32_t v, bool be) {
  poke16(t, at + (be ? 0 : 2), static_cast<uint16_t>(v >> 16), be);
  poke16(t, at + (be ? 2 : 0), static_cast<uint16_t>(v), be);
}

// Where exif_tiff() puts things: IFD0 at 8 (count), the Make entry at 10,
// the Orientation entry at 22 (tag, type at 24, count at 26, value at 30).
constexpr size_t kIfd0 = 8, kOrientationEntry = 22;

TEST(ExifOrientation, EveryValueBothByteOrders) {
  for (const bool be : {false, true}) {
    for (int o = 1; o <= 8; o++) EXPECT_EQ(exif_orientation(exif_tiff(o, be)), o) << (be ? "MM " : "II ") << o;
  }
}

TEST(ExifOrientation, HandWrittenBigEndianBlock) {
  // "MM", 42, IFD0 at 8; 1 entry: 0x0112 SHORT x1 = 8; next IFD 0.
  const std::vector<uint8_t> t = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(exif_orientation(t), 8);
}

TEST(ExifOrientation, HandWrittenLittleEndianBlockWithIfdFurtherOn) {
  // IFD0 at 12, after 4 padding bytes; 1 entry: 0x0112 SHORT x1 = 6.
  const std::vector<uint8_t> t = {'I', 'I', 42, 0, 12, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD,
                                  1,   0,   0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(exif_orientation(t), 6);
}

TEST(ExifOrientation, OutOfRangeValuesMeanNormal) {
  for (const bool be : {false, true}) {
    for (const uint16_t v : {uint16_t{0}, uint16_t{9}, uint16_t{0x0100}, uint16_t{0xFFFF}}) {
      std::vector<uint8_t> t = exif_tiff(1, be);
      poke16(t, kOrientationEntry + 8, v, be);
      EXPECT_EQ(exif_orientation(t), 1) << v;
    }
  }
}

TEST(ExifOrientation, LongTypeIsAcceptedOtherTypesAreNot) {
  for (const bool be : {false, true}) {
    std::vector<uint8_t> t = exif_tiff(1, be);
    poke16(t, kOrientationEntry + 2, 4, be);  // LONG
    poke32(t, kOrientationEntry + 8, 5, be);
    EXPECT_EQ(exif_orientation(t), 5);
    poke16(t, kOrientationEntry + 2, 2, be);  // ASCII
    EXPECT_EQ(exif_orientation(t), 1);
    std::vector<uint8_t> zero_count = exif_tiff(6, be);
    poke32(zero_count, kOrientationEntry + 4, 0, be);
    EXPECT_EQ(exif_orientation(zero_count), 1);
  }
}

TEST(ExifOrientation, MissingTagMeansNormal) {
  std::vector<uint8_t> t = exif_tiff(6, false);
  poke16(t, kIfd0, 1, false);  // only the Make entry is counted
  EXPECT_EQ(exif_orientation(t), 1);
  poke16(t, kIfd0, 0, false);
  EXPECT_EQ(exif_orientation(t), 1);
}

TEST(ExifOrientation, BadHeadersMeanNormal) {
  EXPECT_EQ(exif_orientation({}), 1);
  std::vector<uint8_t> t = exif_tiff(6, false);
  t[0] = 'M';  // "MI": no such byte order
  EXPECT_EQ(exif_orientation(t), 1);
  t = exif_tiff(6, false);
  t[2] = 43;  // not 42
  EXPECT_EQ(exif_orientation(t), 1);
  t = exif_tiff(6, true);  // big-endian magic read as little-endian
  t[0] = t[1] = 'I';
  EXPECT_EQ(exif_orientation(t), 1);
}

TEST(ExifOrientation, OffsetsPastTheEndMeanNormal) {
  for (const bool be : {false, true}) {
    const std::vector<uint8_t> good = exif_tiff(6, be);
    for (const uint32_t ifd : {static_cast<uint32_t>(good.size()), static_cast<uint32_t>(good.size() - 1),
                               0xFFFFFFF0u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> t = good;
      poke32(t, 4, ifd, be);
      EXPECT_EQ(exif_orientation(t), 1) << ifd;
    }
    // An entry count far beyond the block: the entries that are there are
    // read, the rest are not.
    std::vector<uint8_t> t = good;
    poke16(t, kIfd0, 0xFFFF, be);
    EXPECT_EQ(exif_orientation(t), 6);
    // The Orientation entry cut in the middle of its value.
    t = good;
    t.resize(kOrientationEntry + 9);
    EXPECT_EQ(exif_orientation(t), 1);
  }
}

// Every truncation and fixed-seed byte flips: always 1-8, never a read out
// of bounds (the span is its own allocation: ASan sees any overrun).
TEST(ExifOrientation, FuzzTruncationsAndFlips) {
  std::mt19937 rng(2024);
  for (const bool be : {false, true}) {
    const std::vector<uint8_t> good = exif_tiff(7, be);
    for (size_t n = 0; n <= good.size(); n++) {
      const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
      const int o = exif_orientation(cut);
      EXPECT_EQ(o, n >= kOrientationEntry + 10 ? 7 : 1) << n;
    }
    for (int i = 0; i < 20000; i++) {
      std::vector<uint8_t> flipped = good;
      const int flips = 1 + static_cast<int>(rng() % 6);
      for (int f = 0; f < flips; f++) flipped[rng() % flipped.size()] = static_cast<uint8_t>(rng());
      // a fresh allocation of exactly the cut length, so ASan sees overruns
      const std::vector<uint8_t> t(flipped.begin(),
                                   flipped.begin() + static_cast<std::ptrdiff_t>(rng() % (flipped.size() + 1)));
      const int o = exif_orientation(t);
      ASSERT_GE(o, 1);
      ASSERT_LE(o, 8);
    }
  }
}

// ---- the JPEG marker scan --------------------------------------------------

TEST(ScanJpegHeader, RealPhotoFrameSize) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const JpegHeader h = scan_jpeg_header(bytes);
  ASSERT_TRUE(h.width && h.height);
  EXPECT_EQ(*h.width, 768);
  EXPECT_EQ(*h.height, 576);
}

TEST(ScanJpegHeader, FindsExifAfterSoi) {
  Image img;
  img.width = 16;
  img.height = 8;
  img.rgb.assign(16 * 8 * 3, 90);
  const std::vector<uint8_t> jpeg = testing::oriented_jpeg(img, 6, true);
  const JpegHeader h = scan_jpeg_header(jpeg);
  EXPECT_EQ(std::vector<uint8_t>(h.exif_tiff.begin(), h.exif_tiff.end()), exif_tiff(6, true));
  ASSERT_TRUE(h.width && h.height);
  EXPECT_EQ(*h.width, 8);  // stored transposed
  EXPECT_EQ(*h.height, 16);
}

TEST(ScanJpegHeader, NotExifApp1IsIgnored) {
  // An XMP-style APP1 first, then the Exif one: the Exif one is found.
  const std::vector<uint8_t> tiff = exif_tiff(3, false);
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE1, 0, 8, 'h', 't', 't', 'p', ':', '/'};
  const std::vector<uint8_t> tail = testing::with_exif_app1(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xD9}, tiff);
  jpeg.insert(jpeg.end(), tail.begin() + 2, tail.end());
  EXPECT_EQ(exif_orientation(scan_jpeg_header(jpeg).exif_tiff), 3);
}

TEST(ScanJpegHeader, SegmentPastTheEndStopsTheScan) {
  const std::vector<uint8_t> tiff = exif_tiff(8, false);
  std::vector<uint8_t> jpeg = testing::with_exif_app1(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xD9}, tiff);
  jpeg[5] = static_cast<uint8_t>(jpeg[5] + 1);  // APP1 length one byte too long: runs past the end
  jpeg.resize(jpeg.size() - 2);                 // and no EOI after it
  const JpegHeader h = scan_jpeg_header(jpeg);
  EXPECT_TRUE(h.exif_tiff.empty());
  EXPECT_FALSE(h.width);
}

TEST(ScanJpegHeader, FuzzNeverReadsOutside) {
  Image img;
  img.width = 24;
  img.height = 16;
  img.rgb.assign(24 * 16 * 3, 200);
  const std::vector<uint8_t> good = testing::oriented_jpeg(img, 5, false);
  std::mt19937 rng(77);
  for (size_t n = 0; n <= 400 && n <= good.size(); n++) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const JpegHeader h = scan_jpeg_header(cut);
    EXPECT_LE(h.exif_tiff.size(), n);
  }
  for (int i = 0; i < 5000; i++) {
    std::vector<uint8_t> t(good.begin(), good.begin() + 400);
    for (int f = 0; f < 3; f++) t[rng() % t.size()] = static_cast<uint8_t>(rng());
    const JpegHeader h = scan_jpeg_header(t);
    const int o = exif_orientation(h.exif_tiff);
    ASSERT_GE(o, 1);
    ASSERT_LE(o, 8);
  }
}

// ---- the transforms ----------------------------------------------------------

// A 3x2 image whose pixels are the letters A-F (in R; G, B = 0):
//   A B C
//   D E F
Image letters() {
  Image img;
  img.width = 3;
  img.height = 2;
  for (const char c : {'A', 'B', 'C', 'D', 'E', 'F'}) img.rgb.insert(img.rgb.end(), {static_cast<uint8_t>(c), 0, 0});
  return img;
}

std::string rows_of(const Image& img) {
  std::string s;
  for (int y = 0; y < img.height; y++) {
    if (y > 0) s += '/';
    for (int x = 0; x < img.width; x++) s += static_cast<char>(img.rgb[static_cast<size_t>(y * img.width + x) * 3]);
  }
  return s;
}

// Worked by hand from the EXIF table (where the stored 0th row / 0th column
// lie in the upright picture).
TEST(ApplyOrientation, HandWorkedLetters) {
  const Image s = letters();
  EXPECT_EQ(rows_of(apply_orientation(s, 1)), "ABC/DEF");
  EXPECT_EQ(rows_of(apply_orientation(s, 2)), "CBA/FED");     // row 0 top, column 0 right
  EXPECT_EQ(rows_of(apply_orientation(s, 3)), "FED/CBA");     // row 0 bottom, column 0 right
  EXPECT_EQ(rows_of(apply_orientation(s, 4)), "DEF/ABC");     // row 0 bottom, column 0 left
  EXPECT_EQ(rows_of(apply_orientation(s, 5)), "AD/BE/CF");    // row 0 left, column 0 top
  EXPECT_EQ(rows_of(apply_orientation(s, 6)), "DA/EB/FC");    // row 0 right, column 0 top: 90 CW
  EXPECT_EQ(rows_of(apply_orientation(s, 7)), "FC/EB/DA");    // row 0 right, column 0 bottom
  EXPECT_EQ(rows_of(apply_orientation(s, 8)), "CF/BE/AD");    // row 0 left, column 0 bottom: 90 CCW
}

TEST(ApplyOrientation, SizesSwapForFiveToEight) {
  for (int o = 1; o <= 8; o++) {
    const Image out = apply_orientation(letters(), o);
    EXPECT_EQ(out.width, o >= 5 ? 2 : 3) << o;
    EXPECT_EQ(out.height, o >= 5 ? 3 : 2) << o;
    EXPECT_EQ(orientation_swaps_axes(o), o >= 5);
  }
}

// The fixture's stored pixels (built from elementary flips) come back
// upright exactly, for every orientation, on odd fixed-seed sizes.
TEST(ApplyOrientation, InvertsTheFixture) {
  std::mt19937 rng(5);
  for (const auto& [w, h] : {std::pair{1, 1}, std::pair{1, 7}, std::pair{7, 1}, std::pair{5, 3}, std::pair{31, 17}}) {
    Image up;
    up.width = w;
    up.height = h;
    up.rgb.resize(static_cast<size_t>(w * h * 3));
    for (auto& b : up.rgb) b = static_cast<uint8_t>(rng());
    for (int o = 1; o <= 8; o++) {
      const Image back = apply_orientation(testing::stored_for_orientation(up, o), o);
      EXPECT_EQ(back.width, w);
      EXPECT_EQ(back.height, h);
      EXPECT_EQ(back.rgb, up.rgb) << w << "x" << h << " orientation " << o;
    }
  }
}

TEST(ApplyOrientation, BadArgumentsAreCallerErrors) {
  EXPECT_THROW(apply_orientation(letters(), 0), std::invalid_argument);
  EXPECT_THROW(apply_orientation(letters(), 9), std::invalid_argument);
  Image bad = letters();
  bad.rgb.pop_back();
  EXPECT_THROW(apply_orientation(bad, 6), std::invalid_argument);
}

}  // namespace
}  // namespace lookout::image
