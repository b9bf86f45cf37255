// decode_image: format sniffing and the errors for what is not an image.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "image/image.h"
#include "image_test_util.h"

namespace lookout::image {
namespace {

std::string decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, 300, 300);
  } catch (const DecodeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "decoded without error";
  return "";
}

TEST(DecodeImage, JpegIsDecodedScaled) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const Image img = decode_image(bytes, 300, 300);
  EXPECT_EQ(img.width, 480);
  EXPECT_EQ(img.height, 360);
  EXPECT_EQ(img.rgb, decode_jpeg(bytes, 300, 300).rgb);
}

TEST(DecodeImage, JpegMadeAtTestTime) {
  const std::vector<uint8_t> px(16 * 8 * 3, 128);
  const std::vector<uint8_t> jpeg = testing::compress_jpeg(px, 16, 8, TJPF_RGB, TJSAMP_420, 90);
  const Image img = decode_image(jpeg, 0, 0);
  EXPECT_EQ(img.width, 2);  // 1/8
  EXPECT_EQ(img.height, 1);
}

TEST(DecodeImage, EmptyFails) { EXPECT_EQ(decode_error({}), "empty file"); }

TEST(DecodeImage, RandomBytesFail) {
  std::mt19937 rng(99);
  std::vector<uint8_t> bytes(1000);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  bytes[0] = 0x12;  // make sure it is no JPEG/PNG magic by chance
  bytes[1] = 0xab;
  const std::string msg = decode_error(bytes);
  EXPECT_NE(msg.find("12 ab"), std::string::npos) << msg;
  EXPECT_NE(msg.find("neither JPEG"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1000 bytes"), std::string::npos) << msg;
}

TEST(DecodeImage, ShortFilesFail) {
  EXPECT_NE(decode_error({0xFF}).find("starts with ff (1 bytes), which is neither JPEG"), std::string::npos);
  EXPECT_NE(decode_error({0xFF, 0xD8}).find("starts with ff d8 (2 bytes)"), std::string::npos);
  // The JPEG magic alone: routed to the JPEG decoder, which finds no header.
  EXPECT_NE(decode_error({0xFF, 0xD8, 0xFF}).find("truncated JPEG (3 bytes)"), std::string::npos);
}

TEST(DecodeImage, TextFails) {
  const std::string text = "<html>not an image</html>";
  const std::string msg = decode_error(std::vector<uint8_t>(text.begin(), text.end()));
  EXPECT_NE(msg.find("3c 68 74 6d 6c 3e 6e 6f ..."), std::string::npos) << msg;
}

// The PNG magic and the start of a chunk: routed to the PNG decoder, which
// runs out of bytes in the header.
TEST(DecodeImage, PngMagicAloneIsTruncatedPng) {
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
  const std::string msg = decode_error(png);
  EXPECT_EQ(msg.rfind("truncated PNG (12 bytes): header: ", 0), 0u) << msg;
}

TEST(DecodeImage, TruncatedJpegFailsWithReason) {
  LOOKOUT_LOAD_PHOTO(bytes, "darknet__dog.jpg");
  const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * 3 / 10));
  const std::string msg = decode_error(cut);
  EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lookout::image
