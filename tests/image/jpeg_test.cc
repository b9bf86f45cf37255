// decode_jpeg: DCT scale choice, colour spaces, and refusal of bad data.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "image/image.h"
#include "image_test_util.h"

namespace lookout::image {
namespace {

using testing::compress_jpeg;

// The size TurboJPEG produces at the scale jpeg.cc's rule picks, computed
// here independently: the smallest power of two (1/8, 1/4, 1/2, 1/1) that
// covers min, or full size; for 4:4:0 and 4:1:1 chroma, a smaller covering
// non-power-of-two scale instead if it has at most half as many pixels.
std::pair<int, int> expected_size(int w, int h, int subsamp, int min_w, int min_h) {
  int n = 0;
  const tjscalingfactor* sf = tjGetScalingFactors(&n);
  std::pair<int, int> best{w, h};
  const auto area = [](std::pair<int, int> s) { return static_cast<long>(s.first) * s.second; };
  for (int i = 0; i < n; i++) {
    if (sf[i].num > sf[i].denom || (sf[i].num != 1 && sf[i].num != sf[i].denom)) continue;
    const std::pair<int, int> s{TJSCALED(w, sf[i]), TJSCALED(h, sf[i])};
    if (s.first >= min_w && s.second >= min_h && area(s) < area(best)) best = s;
  }
  if (subsamp != TJSAMP_440 && subsamp != TJSAMP_411) return best;
  std::pair<int, int> pick = best;
  for (int i = 0; i < n; i++) {
    if (sf[i].num > sf[i].denom || sf[i].num == 1 || sf[i].num == sf[i].denom) continue;
    const std::pair<int, int> s{TJSCALED(w, sf[i]), TJSCALED(h, sf[i])};
    if (s.first >= min_w && s.second >= min_h && 2 * area(s) <= area(best) && area(s) < area(pick)) pick = s;
  }
  return pick;
}

int jpeg_subsamp(const std::vector<uint8_t>& bytes) {
  tjhandle d = tjInitDecompress();
  int w = 0, h = 0, ss = -1, cs = 0;
  tjDecompressHeader3(d, const_cast<unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()), &w, &h,
                      &ss, &cs);
  tjDestroy(d);
  return ss;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  int m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); i++) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(DecodeJpeg, DogAt300PicksFiveEighths) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  ASSERT_EQ(jpeg_subsamp(bytes), TJSAMP_440);
  const Image img = decode_jpeg(bytes, 300, 300);
  // 768x576: 1/2 gives 384x288 (288 < 300); the chroma is 4:4:0 and 5/8
  // (480x360) has 25/64 <= 1/2 of 1/1's pixels, so 5/8 rather than 1/1.
  EXPECT_EQ(img.width, 480);
  EXPECT_EQ(img.height, 360);
  EXPECT_EQ(img.rgb.size(), 480u * 360u * 3u);
}

// The same size with 4:2:0 chroma: 5/8 would cover 300x300 too, but the
// rule keeps the power of two, 1/1.
TEST(DecodeJpeg, BurgerAt300PrefersFullSizeOverFiveEighths) {
  LOOKOUT_LOAD_PHOTO(bytes, "qtwebengine5-examples__burger.jpg");
  ASSERT_EQ(jpeg_subsamp(bytes), TJSAMP_420);
  const Image img = decode_jpeg(bytes, 300, 300);
  EXPECT_EQ(img.width, 768);  // 5/8 would be 480x320
  EXPECT_EQ(img.height, 512);
}

TEST(DecodeJpeg, DogScaleFollowsMinimum) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");  // 768x576, 4:4:0
  struct Case { int min_w, min_h, w, h; };
  for (const Case c : {Case{0, 0, 96, 72},        // 1/8
                       Case{96, 72, 96, 72},      // exactly 1/8
                       Case{97, 1, 192, 144},     // 1/4
                       Case{200, 150, 384, 288},  // 1/2: 3/8 (288x216) covers but has 9/16 of 1/2's pixels
                       Case{384, 288, 384, 288},  // 1/2
                       Case{385, 1, 480, 360},    // 5/8: 25/64 of 1/1's pixels
                       Case{480, 360, 480, 360},  // exactly 5/8
                       Case{481, 1, 768, 576},    // 1/1: 3/4 (576x432) covers but has 9/16 of its pixels
                       Case{600, 1, 768, 576},    // 1/1: 7/8 (672x504) covers but has 49/64
                       Case{768, 576, 768, 576},  // 1/1
                       Case{769, 1, 768, 576},    // nothing covers: full size
                       Case{4000, 3000, 768, 576}}) {
    const Image img = decode_jpeg(bytes, c.min_w, c.min_h);
    EXPECT_EQ(img.width, c.w) << "min " << c.min_w << "x" << c.min_h;
    EXPECT_EQ(img.height, c.h) << "min " << c.min_w << "x" << c.min_h;
  }
}

// A 4000x3000 photo is never decoded at full size for the model input: 1/8
// (500x375) covers 300x300, whatever the chroma subsampling.
TEST(DecodeJpeg, Large4000x3000DecodesAtOneEighth) {
  const int w = 4000, h = 3000;
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < rgb.size(); i++) rgb[i] = static_cast<uint8_t>((i * 7) / 3000);
  for (const int ss : {TJSAMP_444, TJSAMP_420, TJSAMP_440, TJSAMP_411}) {
    const Image img = decode_jpeg(compress_jpeg(rgb, w, h, TJPF_RGB, ss, 75), 300, 300);
    EXPECT_EQ(img.width, 500) << "subsampling " << ss;
    EXPECT_EQ(img.height, 375) << "subsampling " << ss;
  }
}

// Every test photo: decodes cleanly, at the rule's covering size.
TEST(DecodeJpeg, AllPhotosAt300CoverAtTheRulesScale) {
  if (!std::filesystem::exists(testing::photo_dir())) GTEST_SKIP() << "data/small missing: run scripts/setup";
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::photo_dir())) {
    if (entry.path().extension() != ".jpg") continue;
    const std::vector<uint8_t> bytes = testing::read_bytes(entry.path());
    int w = 0, h = 0;
    const std::vector<uint8_t> full = testing::tj_decode_rgb(bytes, &w, &h);
    const Image img = decode_jpeg(bytes, 300, 300);
    const auto [ew, eh] = expected_size(w, h, jpeg_subsamp(bytes), 300, 300);
    EXPECT_EQ(img.width, ew) << entry.path();
    EXPECT_EQ(img.height, eh) << entry.path();
    if (w >= 300 && h >= 300) {
      EXPECT_GE(img.width, 300) << entry.path();
      EXPECT_GE(img.height, 300) << entry.path();
    }
    EXPECT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
    seen++;
  }
  EXPECT_GT(seen, 0);
}

TEST(DecodeJpeg, FullSizeMatchesTurboJpegDirectly) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  int w = 0, h = 0;
  const std::vector<uint8_t> want = testing::tj_decode_rgb(bytes, &w, &h);
  const Image img = decode_jpeg(bytes, 1000, 1000);
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  EXPECT_EQ(img.rgb, want);
}

TEST(DecodeJpeg, GrayscalePhotoBecomesRgb) {
  LOOKOUT_LOAD_PHOTO(bytes, "libdlib19.1__frame_000100.jpg");  // 320x240, 1 component
  const Image img = decode_jpeg(bytes, 300, 300);
  ASSERT_EQ(img.width, 320);
  ASSERT_EQ(img.height, 240);
  for (size_t i = 0; i < img.rgb.size(); i += 3) {
    ASSERT_EQ(img.rgb[i], img.rgb[i + 1]);
    ASSERT_EQ(img.rgb[i], img.rgb[i + 2]);
  }
}

// A smooth, fixed-seed test picture: gradients plus a little noise, so JPEG
// at quality 95 reproduces it within a few levels.
std::vector<uint8_t> smooth_rgb(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-2, 2);
  std::vector<uint8_t> px(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      const int base[3] = {20 + 200 * x / (w - 1), 230 - 200 * y / (h - 1), 40 + 100 * (x + y) / (w + h - 2)};
      for (int c = 0; c < 3; c++) {
        px[(static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)) * 3 + static_cast<size_t>(c)] =
            static_cast<uint8_t>(std::clamp(base[c] + noise(rng), 0, 255));
      }
    }
  }
  return px;
}

TEST(DecodeJpeg, GrayscaleJpegMadeWithTurboJpeg) {
  const int w = 64, h = 48;
  std::vector<uint8_t> gray(static_cast<size_t>(w * h));
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) gray[static_cast<size_t>(y * w + x)] = static_cast<uint8_t>(10 + 3 * x + y);
  }
  const std::vector<uint8_t> jpeg = compress_jpeg(gray, w, h, TJPF_GRAY, TJSAMP_GRAY, 95);
  const Image img = decode_jpeg(jpeg, w, h);
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  std::vector<uint8_t> want(gray.size() * 3);
  for (size_t i = 0; i < gray.size(); i++) want[3 * i] = want[3 * i + 1] = want[3 * i + 2] = gray[i];
  EXPECT_LE(max_abs_diff(img.rgb, want), 3);
}

// libjpeg-turbo's cmyk.h rgb_to_cmyk: Adobe-inverted CMYK (255 = no ink).
void rgb_to_inverted_cmyk(const uint8_t* rgb, uint8_t* cmyk) {
  double c = 1.0 - rgb[0] / 255.0, m = 1.0 - rgb[1] / 255.0, y = 1.0 - rgb[2] / 255.0;
  const double k = std::min(std::min(c, m), y);
  if (k == 1.0) {
    c = m = y = 0.0;
  } else {
    c = (c - k) / (1.0 - k);
    m = (m - k) / (1.0 - k);
    y = (y - k) / (1.0 - k);
  }
  cmyk[0] = static_cast<uint8_t>(255.0 - c * 255.0 + 0.5);
  cmyk[1] = static_cast<uint8_t>(255.0 - m * 255.0 + 0.5);
  cmyk[2] = static_cast<uint8_t>(255.0 - y * 255.0 + 0.5);
  cmyk[3] = static_cast<uint8_t>(255.0 - k * 255.0 + 0.5);
}

TEST(DecodeJpeg, CmykJpegMadeWithTurboJpeg) {
  const int w = 64, h = 48;
  std::vector<uint8_t> rgb = smooth_rgb(w, h, 7);
  // Flat 16x16 blocks of pure colours in the top row: red, green, blue, black.
  const uint8_t solid[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 0}};
  for (int b = 0; b < 4; b++) {
    for (int y = 0; y < 16; y++) {
      for (int x = 16 * b; x < 16 * b + 16; x++) {
        std::copy(solid[b], solid[b] + 3, &rgb[static_cast<size_t>(y * w + x) * 3]);
      }
    }
  }
  std::vector<uint8_t> cmyk(static_cast<size_t>(w * h) * 4);
  for (size_t i = 0; i < static_cast<size_t>(w * h); i++) rgb_to_inverted_cmyk(&rgb[3 * i], &cmyk[4 * i]);
  const std::vector<uint8_t> jpeg = compress_jpeg(cmyk, w, h, TJPF_CMYK, TJSAMP_444, 95);

  {  // sanity: TurboJPEG wrote a 4-component (YCCK) JPEG
    tjhandle d = tjInitDecompress();
    int jw = 0, jh = 0, ss = 0, cs = -1;
    ASSERT_EQ(tjDecompressHeader3(d, const_cast<uint8_t*>(jpeg.data()), jpeg.size(), &jw, &jh, &ss, &cs), 0);
    tjDestroy(d);
    EXPECT_EQ(cs, TJCS_YCCK);
  }

  const Image img = decode_jpeg(jpeg, w, h);
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  EXPECT_LE(max_abs_diff(img.rgb, rgb), 8);
  // The solid block centres come back as the pure colours.
  for (int b = 0; b < 4; b++) {
    const uint8_t* p = &img.rgb[static_cast<size_t>(8 * w + 16 * b + 8) * 3];
    for (int c = 0; c < 3; c++) EXPECT_NEAR(p[c], solid[b][c], 2) << "block " << b << " channel " << c;
  }
}

TEST(DecodeJpeg, CmykScaledDecode) {
  const int w = 64, h = 48;
  const std::vector<uint8_t> rgb = smooth_rgb(w, h, 11);
  std::vector<uint8_t> cmyk(static_cast<size_t>(w * h) * 4);
  for (size_t i = 0; i < static_cast<size_t>(w * h); i++) rgb_to_inverted_cmyk(&rgb[3 * i], &cmyk[4 * i]);
  const std::vector<uint8_t> jpeg = compress_jpeg(cmyk, w, h, TJPF_CMYK, TJSAMP_420, 90);
  const Image img = decode_jpeg(jpeg, 16, 12);
  EXPECT_EQ(img.width, 16);  // 1/4
  EXPECT_EQ(img.height, 12);
  EXPECT_EQ(img.rgb.size(), 16u * 12u * 3u);
}

TEST(DecodeJpeg, TruncatedPhotoFails) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * 3 / 10));
  try {
    decode_jpeg(cut, 300, 300);
    FAIL() << "a truncated JPEG decoded";
  } catch (const DecodeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Premature end of JPEG file"), std::string::npos) << msg;
  }
}

TEST(DecodeJpeg, TruncatedProgressivePhotoFails) {
  LOOKOUT_LOAD_PHOTO(bytes, "qtwebengine5-examples__burger.jpg");
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
  EXPECT_THROW(decode_jpeg(cut, 300, 300), DecodeError);
}

TEST(DecodeJpeg, CutInsideHeaderFails) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  for (size_t n : {3u, 20u, 200u}) {
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      decode_jpeg(cut, 300, 300);
      ADD_FAILURE() << "a " << n << "-byte JPEG prefix decoded";
    } catch (const DecodeError& e) {
      EXPECT_NE(std::string(e.what()).find("truncated JPEG"), std::string::npos) << e.what();
    }
  }
}

TEST(DecodeJpeg, GarbageAfterMagicFails) {
  std::mt19937 rng(42);
  std::vector<uint8_t> bytes(4096);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  bytes[0] = 0xFF;
  bytes[1] = 0xD8;
  bytes[2] = 0xFF;
  try {
    decode_jpeg(bytes, 300, 300);
    FAIL() << "random bytes decoded";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("JPEG"), std::string::npos) << e.what();
  }
}

// Padding before the EOI marker is a libjpeg warning, but the pixels are
// all there: accepted, identical to the clean file's.
TEST(DecodeJpeg, ExtraneousBytesBeforeMarkerAreAccepted) {
  const int w = 32, h = 32;
  const std::vector<uint8_t> clean = compress_jpeg(smooth_rgb(w, h, 3), w, h, TJPF_RGB, TJSAMP_420, 90);
  ASSERT_EQ(clean[clean.size() - 2], 0xFF);
  ASSERT_EQ(clean[clean.size() - 1], 0xD9);
  std::vector<uint8_t> padded(clean.begin(), clean.end() - 2);
  padded.insert(padded.end(), {0x00, 0x00, 0x00, 0xFF, 0xD9});
  EXPECT_EQ(decode_jpeg(padded, 0, 0).rgb, decode_jpeg(clean, 0, 0).rgb);
}

// An EOI marker in the middle of the entropy-coded data: libjpeg warns
// ("premature end of data segment") and fills the rest with grey; refused.
TEST(DecodeJpeg, MarkerInsideScanDataFails) {
  const int w = 64, h = 64;
  std::vector<uint8_t> jpeg = compress_jpeg(smooth_rgb(w, h, 5), w, h, TJPF_RGB, TJSAMP_444, 95);
  size_t sos = 0;  // the start-of-scan marker; entropy-coded data follows it
  for (size_t i = 0; i + 1 < jpeg.size() && sos == 0; i++) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) sos = i;
  }
  ASSERT_GT(sos, 0u);
  std::vector<uint8_t> broken(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>((sos + jpeg.size()) / 2));
  broken.insert(broken.end(), {0xFF, 0xD9});  // half the scan data, then a proper end
  try {
    decode_jpeg(broken, 0, 0);
    FAIL() << "a JPEG with half its scan data decoded";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt JPEG"), std::string::npos) << e.what();
  }
}

TEST(DecodeJpeg, EmptyFails) {
  try {
    decode_jpeg({}, 300, 300);
    FAIL();
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "empty file");
  }
}

TEST(DecodeJpeg, NegativeMinimumIsACallerError) {
  const std::vector<uint8_t> jpeg = compress_jpeg(smooth_rgb(8, 8, 1), 8, 8, TJPF_RGB, TJSAMP_444, 90);
  EXPECT_THROW(decode_jpeg(jpeg, -1, 300), std::invalid_argument);
  EXPECT_THROW(decode_jpeg(jpeg, 300, -1), std::invalid_argument);
}

}  // namespace
}  // namespace lookout::image
