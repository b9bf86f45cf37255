// Private to src/image (not part of its public header): what decode() needs
// from each format besides pixels (declared size, EXIF orientation), and the
// orientation transforms.
// Everything that reads file bytes here is bounds-checked: a malformed
// header or EXIF block yields "absent", never a read outside the span.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "image/image.h"

namespace lookout::image {

constexpr int kOrientationNormal = 1;  // also what absent or malformed EXIF means
constexpr int kOrientationMax = 8;

// The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block
// (starting with the byte-order mark "II*\0" or "MM\0*"); 1 when the block is
// malformed, the tag is absent, or its value is not 1-8.
int exif_orientation(std::span<const uint8_t> tiff);

// What the JPEG markers before the first scan say (no entropy-coded data is
// read): the frame size from SOFn, and the TIFF block of the first APP1
// "Exif\0\0" segment. A segment running past the end stops the scan.
struct JpegHeader {
  std::optional<int> width, height;       // from the first SOFn (height 0 = defined later: absent)
  std::span<const uint8_t> exif_tiff;     // empty when there is none
};
JpegHeader scan_jpeg_header(std::span<const uint8_t> jpeg);

// The declared size of a PNG from its IHDR (which the format puts first), or
// nothing when the bytes are too short or do not start with one.
struct DeclaredSize {
  uint32_t width = 0, height = 0;
};
std::optional<DeclaredSize> png_declared_size(std::span<const uint8_t> png);

// Throws TooLargeError (naming both sides and --max-pixels) when
// width * height (computed in 64 bits) is above max_pixels.
void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels);

// Orientations 5-8 store the picture transposed: the stored width is the
// upright height.
bool orientation_swaps_axes(int orientation);

// The upright picture from the stored pixels, per the EXIF spec's meaning of
// the tag (where the stored 0th row and 0th column are in the upright view):
// 1 identity, 2 mirror horizontal, 3 rotate 180, 4 mirror vertical,
// 5 transpose, 6 rotate 90 CW, 7 transverse, 8 rotate 90 CCW.
// Throws std::invalid_argument for an orientation outside 1-8 or an
// inconsistent Image.
Image apply_orientation(const Image& stored, int orientation);

// What a format's decoder gives decode(): the pixels as stored (not yet
// oriented), the stored full size, and the EXIF orientation found.
struct StoredImage {
  Image image;
  int full_width = 0, full_height = 0;  // as stored (before orientation)
  int orientation = kOrientationNormal;
};

// decode() for PNG: 8/16-bit, palette, gray, gray+alpha, RGB, RGBA -> RGB8
// at full size (min_width/min_height are ignored: PNG has no scaled decode),
// refusing a declared size above options.max_pixels before decoding; the
// orientation from the eXIf chunk.
StoredImage decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options);

// decode() for JPEG: the pixel limit checked from the header, then
// decode_jpeg's scaled decode, covering the minimum once oriented (when
// options.apply_orientation). Returns the stored pixels and the orientation.
StoredImage decode_jpeg_stored(std::span<const uint8_t> bytes, const DecodeOptions& options);

}  // namespace lookout::image
