// decode(): EXIF orientation applied to real-photo fixtures (JPEG, both
// byte orders) and PNG eXIf, upright full sizes, the minimum size in upright
// axes, the pixel limit checked from the header, and fuzzed EXIF segments.
#include <gtest/gtest.h>
#include <spng.h>

#include <random>
#include <string>

#include "exif_fixture.h"
#include "image/image.h"
#include "image_test_util.h"
#include "png_fixture.h"

namespace lookout::image {
namespace {

using testing::mean_abs_diff;
using testing::oriented_jpeg;

constexpr int kDogWidth = 768, kDogHeight = 576;

// The dog photo at full size, upright (it has no EXIF), as TurboJPEG decodes it.
Image dog_upright(const std::vector<uint8_t>& bytes) {
  Image img;
  img.rgb = testing::tj_decode_rgb(bytes, &img.width, &img.height);
  return img;
}

DecodeOptions min_size(int w, int h) {
  DecodeOptions o;
  o.min_width = w;
  o.min_height = h;
  return o;
}

TEST(Decode, PlainJpegReportsItself) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Decoded d = decode(bytes, min_size(300, 300));
  EXPECT_STREQ(d.format, "jpeg");
  EXPECT_EQ(d.orientation, 1);
  EXPECT_EQ(d.image.width, 480);  // 5/8
  EXPECT_EQ(d.image.height, 360);
  EXPECT_EQ(d.full_width, kDogWidth);
  EXPECT_EQ(d.full_height, kDogHeight);
  EXPECT_EQ(d.image.rgb, decode_jpeg(bytes, 300, 300).rgb);
}

// The real photo stored for each orientation (re-encoded at quality 95,
// EXIF in both byte orders) comes back upright: same size, pixels within
// JPEG loss of the original, the orientation and upright full size reported.
TEST(Decode, DogFixturesComeBackUprightAtFullSize) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Image upright = dog_upright(bytes);
  ASSERT_EQ(upright.width, kDogWidth);
  for (const bool be : {false, true}) {
    for (int o = 1; o <= 8; o++) {
      SCOPED_TRACE(std::string(be ? "MM" : "II") + " orientation " + std::to_string(o));
      const Decoded d = decode(oriented_jpeg(upright, o, be), min_size(kDogWidth, kDogHeight));
      EXPECT_EQ(d.orientation, o);
      EXPECT_EQ(d.full_width, kDogWidth);
      EXPECT_EQ(d.full_height, kDogHeight);
      ASSERT_EQ(d.image.width, kDogWidth);
      ASSERT_EQ(d.image.height, kDogHeight);
      EXPECT_LT(mean_abs_diff(d.image, upright), 2.0);
      // and not merely similar: an unrotated/mis-rotated result is far off
      // (checked against the wrong transform of the same fixture)
      if (o != 1) {
        const Image wrong = testing::stored_for_orientation(upright, o == 2 ? 3 : 2);
        EXPECT_GT(mean_abs_diff(d.image, wrong), 10.0);
      }
    }
  }
}

// Scaled decode of the oriented fixtures: the minimum is in upright axes.
// (The fixtures are re-encoded 4:4:4, so the scale is always a power of two.)
TEST(Decode, DogFixturesScaled) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Image upright = dog_upright(bytes);
  const Image upright_scaled = decode_jpeg(bytes, 300, 1);  // 384x288, 1/2
  ASSERT_EQ(upright_scaled.width, 384);
  for (int o = 1; o <= 8; o++) {
    SCOPED_TRACE("orientation " + std::to_string(o));
    const std::vector<uint8_t> jpeg = oriented_jpeg(upright, o);
    // 300 wide: 768 * 1/2 = 384 >= 300; applied to the wrong stored axis
    // for 5-8 (576 wide: 288 < 300) it would take 1/1, 768x576.
    const Decoded d = decode(jpeg, min_size(300, 1));
    EXPECT_EQ(d.image.width, 384);
    EXPECT_EQ(d.image.height, 288);
    EXPECT_EQ(d.full_width, kDogWidth);
    EXPECT_EQ(d.full_height, kDogHeight);
    EXPECT_LT(mean_abs_diff(d.image, upright_scaled), 3.0);

    // 300 tall: 576 * 1/2 = 288 < 300, so 1/1; on the wrong axis for 5-8
    // (768 tall) 1/2 would do, giving 384x288.
    const Decoded tall = decode(jpeg, min_size(1, 300));
    EXPECT_EQ(tall.image.width, 768);
    EXPECT_EQ(tall.image.height, 576);

    // 300x300: 1/1, not the 5/8 (480x360) that covers too: 4:4:4 chroma
    // keeps the power of two (the original 4:4:0 photo takes 5/8).
    const Decoded both = decode(jpeg, min_size(300, 300));
    EXPECT_EQ(both.image.width, 768);
    EXPECT_EQ(both.image.height, 576);
  }
}

TEST(Decode, OrientationNotAppliedWhenAskedNot) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Image upright = dog_upright(bytes);
  DecodeOptions options = min_size(kDogWidth, kDogHeight);
  options.apply_orientation = false;
  const Decoded d = decode(oriented_jpeg(upright, 6), options);
  EXPECT_EQ(d.orientation, 6);  // found, reported, not applied
  EXPECT_EQ(d.image.width, kDogHeight);
  EXPECT_EQ(d.image.height, kDogWidth);
  EXPECT_EQ(d.full_width, kDogHeight);  // the size of what was returned, at full scale
  EXPECT_EQ(d.full_height, kDogWidth);
  EXPECT_LT(mean_abs_diff(d.image, testing::stored_for_orientation(upright, 6)), 2.0);
}

TEST(Decode, DecodeImageIsUpright) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Image upright = dog_upright(bytes);
  // Stored 576x768 (4:4:4): 1/2 covers 300 upright-wide, giving 384x288.
  const Image img = decode_image(oriented_jpeg(upright, 8), 300, 1);
  EXPECT_EQ(img.width, 384);
  EXPECT_EQ(img.height, 288);
}

// PNG: lossless, so the upright picture comes back exactly.
TEST(Decode, PngExifOrientation) {
  std::mt19937 rng(3);
  Image upright;
  upright.width = 13;
  upright.height = 5;
  upright.rgb.resize(13 * 5 * 3);
  for (auto& b : upright.rgb) b = static_cast<uint8_t>(rng());
  for (const bool be : {false, true}) {
    for (int o = 1; o <= 8; o++) {
      const Image stored = testing::stored_for_orientation(upright, o);
      testing::PngSpec spec;
      spec.width = static_cast<uint32_t>(stored.width);
      spec.height = static_cast<uint32_t>(stored.height);
      spec.exif = testing::exif_tiff(o, be);
      const Decoded d = decode(testing::encode_png(spec, stored.rgb), {});
      EXPECT_EQ(d.orientation, o);
      EXPECT_EQ(d.image.width, 13);
      EXPECT_EQ(d.image.height, 5);
      EXPECT_EQ(d.full_width, 13);
      EXPECT_EQ(d.full_height, 5);
      EXPECT_EQ(d.image.rgb, upright.rgb) << "orientation " << o;
    }
  }
}

// An eXIf chunk libspng rejects (no TIFF byte-order mark): orientation 1,
// the pixels still decode.
TEST(Decode, PngBadExifChunkIsIgnored) {
  std::vector<uint8_t> png = testing::encode_png({.width = 2, .height = 2}, std::vector<uint8_t>(12, 50));
  std::vector<uint8_t> with(png.begin(), png.begin() + 33);  // signature + IHDR
  testing::append_chunk(with, "eXIf", {'X', 'X', 0, 42, 0, 0, 0, 8});
  with.insert(with.end(), png.begin() + 33, png.end());
  const Decoded d = decode(with, {});
  EXPECT_EQ(d.orientation, 1);
  EXPECT_EQ(d.image.rgb, std::vector<uint8_t>(12, 50));
}

// ---- the pixel limit -------------------------------------------------------

TEST(Decode, JpegLimitIsInclusive) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  DecodeOptions options = min_size(300, 300);
  options.max_pixels = 768 * 576;
  EXPECT_EQ(decode(bytes, options).full_width, kDogWidth);
  options.max_pixels = 768 * 576 - 1;
  try {
    decode(bytes, options);
    FAIL() << "decoded";
  } catch (const TooLargeError& e) {
    EXPECT_STREQ(e.what(), "image declares 768x576 = 442368 pixels, more than the 442367 allowed (--max-pixels)");
  }
}

// A small JPEG whose SOF0 claims a huge frame: refused from the header.
std::vector<uint8_t> with_sof_size(std::vector<uint8_t> jpeg, uint16_t w, uint16_t h) {
  for (size_t i = 2; i + 8 < jpeg.size(); i++) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      jpeg[i + 5] = static_cast<uint8_t>(h >> 8);
      jpeg[i + 6] = static_cast<uint8_t>(h);
      jpeg[i + 7] = static_cast<uint8_t>(w >> 8);
      jpeg[i + 8] = static_cast<uint8_t>(w);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF0";
  return jpeg;
}

TEST(Decode, JpegBogusHugeSofIsTooLarge) {
  const std::vector<uint8_t> small =
      testing::compress_jpeg(std::vector<uint8_t>(16 * 16 * 3, 128), 16, 16, TJPF_RGB, TJSAMP_420, 90);
  struct Case { uint16_t w, h; const char* msg; };
  for (const Case c : {Case{60000, 60000, "image declares 60000x60000 = 3600000000 pixels, more than the 50000000 "
                                          "allowed (--max-pixels)"},
                       // above libjpeg's 65500 a side: still ours to refuse, by size
                       Case{65535, 65535, "image declares 65535x65535 = 4294836225 pixels, more than the 50000000 "
                                          "allowed (--max-pixels)"},
                       Case{10000, 5001, "image declares 10000x5001 = 50010000 pixels, more than the 50000000 "
                                         "allowed (--max-pixels)"}}) {
    try {
      decode(with_sof_size(small, c.w, c.h), {});
      ADD_FAILURE() << c.w << "x" << c.h << " decoded";
    } catch (const TooLargeError& e) {
      EXPECT_STREQ(e.what(), c.msg);
    }
  }
  // TooLargeError is a DecodeError: callers that catch only that still see it.
  EXPECT_THROW(decode_image(with_sof_size(small, 60000, 60000), 300, 300), DecodeError);
}

// With an EXIF block too, and oriented: the check is on the stored frame.
TEST(Decode, JpegHugeSofWithExifIsTooLarge) {
  Image img;
  img.width = 16;
  img.height = 8;
  img.rgb.assign(16 * 8 * 3, 10);
  EXPECT_THROW(decode(with_sof_size(oriented_jpeg(img, 6), 20000, 30000), {}), TooLargeError);
}

TEST(Decode, NegativeMinimumIsACallerError) {
  const std::vector<uint8_t> png = testing::encode_png({.width = 1, .height = 1}, {1, 2, 3});
  EXPECT_THROW(decode(png, min_size(-1, 0)), std::invalid_argument);
  EXPECT_THROW(decode(png, min_size(0, -1)), std::invalid_argument);
}

// ---- hostile EXIF inside a real JPEG ----------------------------------------

// The APP1 segment of a small fixture, cut at every length (its length
// field kept consistent) and with fixed-seed byte flips: decode() either
// gives a consistent image with some orientation 1-8 or throws DecodeError,
// and never reads out of bounds (run under ASan).
TEST(Decode, FuzzedExifSegmentsNeverCrash) {
  Image img;
  img.width = 24;
  img.height = 16;
  img.rgb.resize(24 * 16 * 3);
  std::mt19937 rng(31337);
  for (auto& b : img.rgb) b = static_cast<uint8_t>(rng() % 64 + 96);
  const Image stored = testing::stored_for_orientation(img, 1);
  const std::vector<uint8_t> plain =
      testing::compress_jpeg(stored.rgb, stored.width, stored.height, TJPF_RGB, TJSAMP_444, 90);

  auto check = [](const std::vector<uint8_t>& jpeg) {
    try {
      const Decoded d = decode(jpeg, {});
      EXPECT_GE(d.orientation, 1);
      EXPECT_LE(d.orientation, 8);
      const bool swap = d.orientation >= 5;
      EXPECT_EQ(d.full_width, swap ? 16 : 24);
      EXPECT_EQ(d.full_height, swap ? 24 : 16);
      EXPECT_EQ(d.image.rgb.size(), static_cast<size_t>(d.image.width) * static_cast<size_t>(d.image.height) * 3);
    } catch (const DecodeError&) {
    }
  };

  for (const bool be : {false, true}) {
    const std::vector<uint8_t> tiff = testing::exif_tiff(6, be);
    for (size_t n = 0; n <= tiff.size(); n++) {
      check(testing::with_exif_app1(plain, std::span<const uint8_t>(tiff).first(n)));
    }
    const std::vector<uint8_t> good = testing::with_exif_app1(plain, tiff);
    const size_t app1_end = 2 + 2 + 2 + 6 + tiff.size();
    for (int i = 0; i < 1500; i++) {
      std::vector<uint8_t> t = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; f++) t[2 + rng() % (app1_end - 2)] = static_cast<uint8_t>(rng());
      check(t);
    }
  }
}

}  // namespace
}  // namespace lookout::image
