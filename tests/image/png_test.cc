// PNG through decode(): every colour type and bit depth to RGB8, the pixel
// limit checked from IHDR, and refusal of truncated or corrupt files.
// PNGs are made at test time with libspng's encoder, or by hand.
#include <gtest/gtest.h>
#include <spng.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

#include "image/image.h"
#include "png_fixture.h"

namespace lookout::image {
namespace {

using testing::encode_png;
using testing::PngSpec;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

Decoded decode_png_bytes(const std::vector<uint8_t>& png, uint64_t max_pixels = 50'000'000) {
  DecodeOptions options;
  options.min_width = 300;  // ignored for PNG: always full size
  options.min_height = 300;
  options.max_pixels = max_pixels;
  return decode(png, options);
}

// The error decode() throws, as text ("" and a test failure if none).
std::string png_error(const std::vector<uint8_t>& png, uint64_t max_pixels = 50'000'000) {
  try {
    decode_png_bytes(png, max_pixels);
  } catch (const DecodeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "decoded without error";
  return "";
}

void expect_decodes_to(const std::vector<uint8_t>& png, int w, int h, const std::vector<uint8_t>& want_rgb) {
  const Decoded d = decode_png_bytes(png);
  EXPECT_STREQ(d.format, "png");
  EXPECT_EQ(d.image.width, w);
  EXPECT_EQ(d.image.height, h);
  EXPECT_EQ(d.full_width, w);
  EXPECT_EQ(d.full_height, h);
  EXPECT_EQ(d.orientation, 1);
  EXPECT_EQ(d.image.rgb, want_rgb);
}

// Gray samples -> RGB with R = G = B.
std::vector<uint8_t> gray_to_rgb(const std::vector<uint8_t>& gray) {
  std::vector<uint8_t> rgb;
  for (uint8_t g : gray) rgb.insert(rgb.end(), {g, g, g});
  return rgb;
}

// Keeps channels [0, keep) of every group of `stride` bytes.
std::vector<uint8_t> keep_channels(const std::vector<uint8_t>& v, size_t stride, size_t keep) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + stride <= v.size(); i += stride) out.insert(out.end(), v.begin() + i, v.begin() + i + keep);
  return out;
}

// 16-bit samples (host-endian, as libspng's SPNG_FMT_PNG takes them) and
// what libspng makes of each in RGB8: the high byte.
std::vector<uint8_t> samples16(const std::vector<uint16_t>& s) {
  std::vector<uint8_t> out(s.size() * 2);
  std::memcpy(out.data(), s.data(), out.size());
  return out;
}
std::vector<uint8_t> high_bytes(const std::vector<uint16_t>& s) {
  std::vector<uint8_t> out;
  for (uint16_t v : s) out.push_back(static_cast<uint8_t>(v >> 8));
  return out;
}

std::vector<uint16_t> random_u16(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = static_cast<uint16_t>(rng());
  v[0] = 0xFFFF;  // the extremes and the rounding edge are in every run
  if (n > 2) {
    v[1] = 0x0000;
    v[2] = 0x80FF;
  }
  return v;
}

TEST(DecodePng, Rgb8) {
  const int w = 13, h = 7;
  const std::vector<uint8_t> rgb = random_bytes(w * h * 3, 1);
  expect_decodes_to(encode_png({.width = w, .height = h}, rgb), w, h, rgb);
}

TEST(DecodePng, Rgb8Interlaced) {
  const int w = 17, h = 11;
  const std::vector<uint8_t> rgb = random_bytes(w * h * 3, 2);
  expect_decodes_to(encode_png({.width = w, .height = h, .interlaced = true}, rgb), w, h, rgb);
}

// Alpha is dropped, not composited: fully transparent pixels keep their RGB.
TEST(DecodePng, Rgba8DropsAlpha) {
  const int w = 9, h = 5;
  std::vector<uint8_t> rgba = random_bytes(w * h * 4, 3);
  rgba[3] = 0;
  rgba[7] = 255;
  const std::vector<uint8_t> png =
      encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA}, rgba);
  expect_decodes_to(png, w, h, keep_channels(rgba, 4, 3));
}

TEST(DecodePng, Gray8) {
  const int w = 10, h = 6;
  const std::vector<uint8_t> gray = random_bytes(w * h, 4);
  expect_decodes_to(encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_GRAYSCALE}, gray), w, h,
                    gray_to_rgb(gray));
}

TEST(DecodePng, GrayAlpha8DropsAlpha) {
  const int w = 7, h = 8;
  const std::vector<uint8_t> ga = random_bytes(w * h * 2, 5);
  const std::vector<uint8_t> png =
      encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA}, ga);
  expect_decodes_to(png, w, h, gray_to_rgb(keep_channels(ga, 2, 1)));
}

// Gray at 1, 2 and 4 bits: samples scale to 0-255 by bit replication
// (v * 255 / (2^bits - 1)); rows are packed MSB first and padded to a byte.
TEST(DecodePng, LowBitDepthGray) {
  const int w = 5, h = 3;
  for (const uint8_t bits : {uint8_t{1}, uint8_t{2}, uint8_t{4}}) {
    const unsigned max = (1u << bits) - 1;
    std::mt19937 rng(bits);
    std::vector<uint8_t> packed, want_gray;
    for (int y = 0; y < h; y++) {
      unsigned acc = 0, used = 0;
      for (int x = 0; x < w; x++) {
        const unsigned v = static_cast<unsigned>(rng()) & max;
        want_gray.push_back(static_cast<uint8_t>(v * 255 / max));
        acc = (acc << bits) | v;
        used += bits;
        if (used == 8) {
          packed.push_back(static_cast<uint8_t>(acc));
          acc = used = 0;
        }
      }
      if (used > 0) packed.push_back(static_cast<uint8_t>(acc << (8 - used)));
    }
    const std::vector<uint8_t> png =
        encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_GRAYSCALE, .bit_depth = bits}, packed);
    SCOPED_TRACE(std::to_string(bits) + "-bit gray");
    expect_decodes_to(png, w, h, gray_to_rgb(want_gray));
  }
}

TEST(DecodePng, Palette8) {
  const int w = 12, h = 9;
  std::vector<std::array<uint8_t, 3>> palette;
  std::mt19937 rng(6);
  for (int i = 0; i < 40; i++) {
    palette.push_back({static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())});
  }
  std::vector<uint8_t> index(w * h), want;
  for (auto& i : index) {
    i = static_cast<uint8_t>(rng() % palette.size());
    want.insert(want.end(), palette[i].begin(), palette[i].end());
  }
  const std::vector<uint8_t> png =
      encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_INDEXED, .palette = palette}, index);
  expect_decodes_to(png, w, h, want);
}

TEST(DecodePng, Palette4Bit) {
  const int w = 3, h = 2;  // 3 indices a row: 2 bytes, the last half-filled
  const std::vector<std::array<uint8_t, 3>> palette = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
  const std::vector<uint8_t> packed = {0x12, 0x30, 0x03, 0x10};  // row 0: 1 2 3, row 1: 0 3 1
  const std::vector<uint8_t> want = {255, 0, 0, 0, 255, 0, 10, 20, 30, 0, 0, 0, 10, 20, 30, 255, 0, 0};
  const std::vector<uint8_t> png = encode_png(
      {.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_INDEXED, .bit_depth = 4, .palette = palette}, packed);
  expect_decodes_to(png, w, h, want);
}

// 16-bit samples become 8-bit by keeping the high byte (libspng's
// conversion; at most 1 level from round(v * 255 / 65535)).
TEST(DecodePng, Rgb16) {
  const int w = 6, h = 4;
  const std::vector<uint16_t> s = random_u16(w * h * 3, 7);
  const std::vector<uint8_t> png = encode_png({.width = w, .height = h, .bit_depth = 16}, samples16(s));
  expect_decodes_to(png, w, h, high_bytes(s));
}

TEST(DecodePng, Rgba16DropsAlpha) {
  const int w = 5, h = 5;
  const std::vector<uint16_t> s = random_u16(w * h * 4, 8);
  const std::vector<uint8_t> png = encode_png(
      {.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, .bit_depth = 16}, samples16(s));
  expect_decodes_to(png, w, h, keep_channels(high_bytes(s), 4, 3));
}

TEST(DecodePng, Gray16AndGrayAlpha16) {
  const int w = 4, h = 3;
  const std::vector<uint16_t> g = random_u16(w * h, 9);
  expect_decodes_to(
      encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_GRAYSCALE, .bit_depth = 16}, samples16(g)),
      w, h, gray_to_rgb(high_bytes(g)));
  const std::vector<uint16_t> ga = random_u16(w * h * 2, 10);
  expect_decodes_to(
      encode_png({.width = w, .height = h, .color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, .bit_depth = 16},
                 samples16(ga)),
      w, h, gray_to_rgb(keep_channels(high_bytes(ga), 2, 1)));
}

TEST(DecodePng, MinimumSizeIsIgnoredFullSizeAlways) {
  const std::vector<uint8_t> rgb = random_bytes(40 * 30 * 3, 11);
  const std::vector<uint8_t> png = encode_png({.width = 40, .height = 30}, rgb);
  DecodeOptions options;
  options.min_width = 1;
  options.min_height = 1;
  const Decoded d = decode(png, options);
  EXPECT_EQ(d.image.width, 40);
  EXPECT_EQ(d.image.height, 30);
  EXPECT_EQ(decode_image(png, 0, 0).rgb, rgb);
}

// A hand-made signature + IHDR (valid CRC) declaring 100000x100000 and no
// image data: refused from the header with the exact message, so nothing
// was allocated for 30 GB of pixels (the data would not even be there).
TEST(DecodePng, HugeDeclaredSizeIsTooLarge) {
  const std::vector<uint8_t> png = testing::png_header_only(100000, 100000);
  try {
    decode_png_bytes(png);
    FAIL() << "decoded";
  } catch (const TooLargeError& e) {
    EXPECT_STREQ(e.what(),
                 "image declares 100000x100000 = 10000000000 pixels, more than the 50000000 allowed (--max-pixels)");
  }
}

TEST(DecodePng, LimitIsInclusive) {
  const std::vector<uint8_t> png = encode_png({.width = 64, .height = 64}, random_bytes(64 * 64 * 3, 12));
  EXPECT_EQ(decode_png_bytes(png, 4096).image.width, 64);
  EXPECT_THROW(decode_png_bytes(png, 4095), TooLargeError);
  EXPECT_THROW(decode_png_bytes(png, 0), TooLargeError);
}

// One side above what the limit could ever allow (libspng's per-side limit
// would catch it too): still TooLargeError with our message, not libspng's.
TEST(DecodePng, WideAndShortIsTooLarge) {
  const std::string msg = png_error(testing::png_header_only(2'000'000'000u, 1), 1'000'000);
  EXPECT_EQ(msg, "image declares 2000000000x1 = 2000000000 pixels, more than the 1000000 allowed (--max-pixels)");
}

TEST(DecodePng, ZeroWidthIsInvalid) {
  const std::string msg = png_error(testing::png_header_only(0, 10));
  EXPECT_NE(msg.find("invalid PNG: header: "), std::string::npos) << msg;
}

TEST(DecodePng, TruncatedFailsWithReason) {
  const std::vector<uint8_t> png = encode_png({.width = 64, .height = 64}, random_bytes(64 * 64 * 3, 13));
  for (const size_t n : {size_t{8}, size_t{20}, size_t{33}, size_t{40}, png.size() / 2}) {
    const std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string msg = png_error(cut);
    EXPECT_EQ(msg.rfind("truncated PNG (" + std::to_string(n) + " bytes): ", 0), 0u) << msg;
    EXPECT_NE(msg.find("end of stream"), std::string::npos) << msg;  // libspng's reason
  }
}

// The pixels are all there, only IEND is missing: accepted.
TEST(DecodePng, MissingIendIsAccepted) {
  const std::vector<uint8_t> rgb = random_bytes(16 * 16 * 3, 14);
  const std::vector<uint8_t> png = encode_png({.width = 16, .height = 16}, rgb);
  const std::vector<uint8_t> cut(png.begin(), png.end() - 12);
  EXPECT_EQ(decode_png_bytes(cut).image.rgb, rgb);
}

TEST(DecodePng, CorruptImageDataCrcFails) {
  std::vector<uint8_t> png = encode_png({.width = 16, .height = 16}, random_bytes(16 * 16 * 3, 15));
  png[33 + 8 + 5] ^= 0x40;  // inside the first IDAT's data (IHDR ends at 33)
  const std::string msg = png_error(png);
  EXPECT_EQ(msg.rfind("invalid PNG: image data: ", 0), 0u) << msg;
}

// (libspng verifies IHDR's CRC when it reads on, so the reason, not the
// step, is what to check.)
TEST(DecodePng, CorruptIhdrCrcFails) {
  std::vector<uint8_t> png = encode_png({.width = 10, .height = 10}, random_bytes(10 * 10 * 3, 18));
  png[29] ^= 1;  // IHDR's CRC: bytes 29-32
  const std::string msg = png_error(png);
  EXPECT_EQ(msg.rfind("invalid PNG: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
}

// Every cut and fixed-seed byte flips of a small PNG (with an eXIf chunk):
// each either decodes or throws DecodeError, never crashes (run under ASan).
TEST(DecodePng, FuzzTruncationsAndFlips) {
  const std::vector<uint8_t> tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  const std::vector<uint8_t> png = encode_png({.width = 9, .height = 7, .exif = tiff}, random_bytes(9 * 7 * 3, 16));
  int decoded = 0, failed = 0;
  auto attempt = [&](const std::vector<uint8_t>& bytes) {
    try {
      const Decoded d = decode_png_bytes(bytes);
      EXPECT_EQ(d.image.rgb.size(), static_cast<size_t>(d.image.width) * static_cast<size_t>(d.image.height) * 3);
      decoded++;
    } catch (const DecodeError&) {
      failed++;
    }
  };
  for (size_t n = 0; n <= png.size(); n++) attempt({png.begin(), png.begin() + static_cast<std::ptrdiff_t>(n)});
  std::mt19937 rng(17);
  for (int i = 0; i < 2000; i++) {
    std::vector<uint8_t> b = png;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; f++) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    attempt(b);
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace lookout::image
