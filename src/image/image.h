// Lookout's image layer: compressed photo bytes -> RGB8 pixels at (about) the
// model's input size. Knows nothing of the engine, HTTP or the CLI.
//
// Pipeline: decode_image() sniffs the format and decodes at the smallest
// scale that still covers the model input (for JPEG, TurboJPEG's DCT
// scaling), then resize_bilinear() brings it to exactly the model input.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

namespace lookout::image {

// Interleaved RGB8, row-major, no padding: rgb.size() == width * height * 3.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// The bytes are not an image we can decode: unknown format, corrupt or
// truncated data. The message says what is wrong (with the decoder's reason).
// Bad arguments from the caller (negative sizes, an inconsistent Image) are
// std::invalid_argument instead.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The image declares a size above the caller's pixel limit; refused from the
// header, before any pixel is decoded.
class TooLargeError : public DecodeError {
 public:
  using DecodeError::DecodeError;
};

// DecodeOptions minimum for "decode at full size" (no DCT scaling).
inline constexpr int kFullSize = std::numeric_limits<int>::max();

struct DecodeOptions {
  // JPEG decodes at the smallest DCT scale still covering min_width x
  // min_height (0 = any scale, down to 1/8; kFullSize = no scaling).
  int min_width = kFullSize, min_height = kFullSize;
  uint64_t max_pixels = 50'000'000;   // declared width * height above this -> TooLargeError
  bool apply_orientation = true;      // EXIF orientation 1-8 applied: the result is upright
};

struct Decoded {
  Image image;               // upright; possibly scaled down (JPEG DCT scaling)
  int full_width = 0;        // the upright image at full size
  int full_height = 0;
  int orientation = 1;       // the EXIF orientation found (1 = normal, also when absent)
  const char* format = "";   // "jpeg" or "png"
};

// JPEG or PNG (sniffed from the first bytes) -> upright RGB8. PNG: 8/16-bit,
// palette, gray, alpha (dropped) -> RGB. EXIF orientation is read from the
// JPEG APP1 segment or the PNG eXIf chunk. Throws DecodeError / TooLargeError.
Decoded decode(std::span<const uint8_t> bytes, const DecodeOptions& options);

// Decodes a JPEG (baseline or progressive; YCbCr, RGB, grayscale, CMYK or
// YCCK) to RGB at the smallest TurboJPEG scaling factor <= 1 (1/8, 1/4, 3/8,
// 1/2, 5/8, 3/4, 7/8, 1) whose output is at least min_width x min_height in
// both dimensions; at full size if none is. A minimum of 0 means "any".
// CMYK/YCCK are taken as Adobe-inverted (what Photoshop writes and what
// browsers and libjpeg-turbo's own tools assume): R = C * K / 255.
// Truncated or corrupt data throws DecodeError; warnings that leave the
// pixels intact (extraneous bytes between markers, unknown JFIF revision,
// bad ICC or Adobe transform markers) do not.
Image decode_jpeg(std::span<const uint8_t> bytes, int min_width, int min_height);

// decode(bytes, {min_width, min_height}).image: upright, default pixel limit.
Image decode_image(std::span<const uint8_t> bytes, int min_width, int min_height);

// Bilinear resize with half-pixel centres, exactly as TensorFlow's
// resize_bilinear(half_pixel_centers=True, align_corners=False) computed in
// float64 and rounded half up (the TFLite oracle's preprocessing):
//   sx = max(0, (ox + 0.5) * (src_w / out_w) - 0.5)
//   x0 = min(floor(sx), src_w - 1), x1 = min(x0 + 1, src_w - 1),
//   fx = (x0 == src_w - 1) ? 0 : sx - x0        (same for y)
//   top = (1 - fx) * P[y0][x0] + fx * P[y0][x1]  (bottom likewise with y1)
//   out = clamp(floor((1 - fy) * top + fy * bottom + 0.5), 0, 255)
// Same size in and out returns an identical copy. No aspect preservation.
Image resize_bilinear(const Image& src, int out_width, int out_height);

// The rectangle [x, x + width) x [y, y + height) of `src`, copied. Throws
// std::invalid_argument when the rectangle is empty or not inside `src`.
Image crop(const Image& src, int x, int y, int width, int height);

// `src` mirrored left-right.
Image flip_horizontal(const Image& src);

// RGB8 -> baseline JPEG, 4:2:0 chroma, quality 1-100. Throws
// std::invalid_argument for an inconsistent image or quality,
// std::runtime_error with TurboJPEG's reason otherwise.
std::vector<uint8_t> encode_jpeg(const Image& img, int quality);

}  // namespace lookout::image
