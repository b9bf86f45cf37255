// PNG decoding with libspng 0.7 (spng_ctx_new, spng_set_png_buffer,
// spng_get_ihdr, spng_decode_image, spng_get_exif): every colour type and
// bit depth to RGB8 at full size, after refusing a declared size above the
// pixel limit, with limits on what a hostile file can make libspng allocate.
//
// Alpha is dropped, not composited: the RGB samples are taken as they are,
// as TensorFlow Lite's example apps do (PIL's Image.convert("RGB") in the
// Python examples, the RGB channels of ARGB bitmaps on Android). No gamma
// correction either: the samples are used as stored, like JPEG's.
#include <spng.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>

#include "image/formats.h"

namespace lookout::image {

namespace {

constexpr size_t kChannels = 3;
constexpr uint32_t kPngMaxDimension = 0x7FFFFFFF;  // PNG spec: 2^31 - 1, also libspng's ceiling
// Chunks libspng keeps in memory (text, ICC profile, eXIf, unknown ones);
// image data (IDAT) is streamed through zlib, not cached, and not limited
// by these. Exceeding them is reported as "out of memory" (SPNG_ECHUNK_LIMITS).
constexpr size_t kChunkSizeLimit = 16u << 20;   // one ancillary chunk
constexpr size_t kChunkCacheLimit = 64u << 20;  // all of them together

// The PNG signature, then IHDR: length (13), "IHDR", width, height (u32 BE).
constexpr size_t kSignatureSize = 8;
constexpr size_t kIhdrTypeAt = kSignatureSize + 4;
constexpr size_t kIhdrWidthAt = kSignatureSize + 8;
constexpr size_t kIhdrHeightAt = kSignatureSize + 12;

uint32_t be32(std::span<const uint8_t> b, size_t at) {
  return (static_cast<uint32_t>(b[at]) << 24) | (static_cast<uint32_t>(b[at + 1]) << 16) |
         (static_cast<uint32_t>(b[at + 2]) << 8) | b[at + 3];
}

// The one owner of a libspng decoder context.
class SpngDecoder {
 public:
  SpngDecoder() : ctx_(spng_ctx_new(0)) {
    // Not the image's fault (out of memory): a plain runtime_error, not DecodeError.
    if (ctx_ == nullptr) throw std::runtime_error("cannot create a libspng decoder context");
  }
  ~SpngDecoder() { spng_ctx_free(ctx_); }
  SpngDecoder(const SpngDecoder&) = delete;
  SpngDecoder& operator=(const SpngDecoder&) = delete;

  spng_ctx* get() const { return ctx_; }

 private:
  spng_ctx* ctx_;
};

// A failed libspng call that is the caller's mistake, not the file's.
void check_setup(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("libspng ") + what + ": " + spng_strerror(rc));
}

[[noreturn]] void throw_png_error(int rc, const char* what, size_t size) {
  const std::string reason = spng_strerror(rc);
  // SPNG_EOF / SPNG_IO_EOF: the buffer ended before the chunk or image data did.
  if (rc == SPNG_EOF || rc == SPNG_IO_EOF) {
    throw DecodeError("truncated PNG (" + std::to_string(size) + " bytes): " + what + ": " + reason);
  }
  throw DecodeError(std::string("invalid PNG: ") + what + ": " + reason);
}

}  // namespace

std::optional<DeclaredSize> png_declared_size(std::span<const uint8_t> png) {
  if (png.size() < kIhdrHeightAt + 4) return std::nullopt;
  if (png[kIhdrTypeAt] != 'I' || png[kIhdrTypeAt + 1] != 'H' || png[kIhdrTypeAt + 2] != 'D' ||
      png[kIhdrTypeAt + 3] != 'R') {
    return std::nullopt;
  }
  return DeclaredSize{be32(png, kIhdrWidthAt), be32(png, kIhdrHeightAt)};
}

StoredImage decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  if (bytes.empty()) throw DecodeError("empty file");
  // From the raw IHDR first, before libspng allocates anything.
  if (const std::optional<DeclaredSize> declared = png_declared_size(bytes)) {
    check_pixel_limit(declared->width, declared->height, options.max_pixels);
  }

  SpngDecoder dec;
  // Per side, no dimension can exceed the pixel limit (the other is >= 1):
  // libspng's own check then backs ours up.
  const auto side_limit = static_cast<uint32_t>(
      std::clamp<uint64_t>(options.max_pixels, 1, kPngMaxDimension));
  check_setup(spng_set_image_limits(dec.get(), side_limit, side_limit), "set image limits");
  check_setup(spng_set_chunk_limits(dec.get(), kChunkSizeLimit, kChunkCacheLimit), "set chunk limits");
  check_setup(spng_set_png_buffer(dec.get(), bytes.data(), bytes.size()), "set buffer");

  spng_ihdr ihdr{};
  if (const int rc = spng_get_ihdr(dec.get(), &ihdr); rc != 0) throw_png_error(rc, "header", bytes.size());
  check_pixel_limit(ihdr.width, ihdr.height, options.max_pixels);

  StoredImage out;
  out.image.width = static_cast<int>(ihdr.width);  // <= max_pixels and <= 2^31 - 1
  out.image.height = static_cast<int>(ihdr.height);
  out.full_width = out.image.width;
  out.full_height = out.image.height;
  const size_t want = static_cast<size_t>(ihdr.width) * ihdr.height * kChannels;

  size_t len = 0;
  if (const int rc = spng_decoded_image_size(dec.get(), SPNG_FMT_RGB8, &len); rc != 0) {
    throw_png_error(rc, "image size", bytes.size());
  }
  if (len != want) {
    throw std::runtime_error("libspng: RGB8 output of a " + std::to_string(ihdr.width) + "x" +
                             std::to_string(ihdr.height) + " PNG is " + std::to_string(len) + " bytes, expected " +
                             std::to_string(want));
  }
  out.image.rgb.resize(len);
  // No SPNG_DECODE_TRNS (transparency is alpha: dropped), no SPNG_DECODE_GAMMA.
  if (const int rc = spng_decode_image(dec.get(), out.image.rgb.data(), len, SPNG_FMT_RGB8, 0); rc != 0) {
    throw_png_error(rc, "image data", bytes.size());
  }

  // eXIf may come after the image data, so it is asked for last. Any problem
  // with it (absent, malformed, a broken chunk after complete pixels) means
  // orientation 1, like a malformed EXIF block in a JPEG.
  spng_exif exif{};
  if (spng_get_exif(dec.get(), &exif) == 0 && exif.data != nullptr) {
    out.orientation = exif_orientation({reinterpret_cast<const uint8_t*>(exif.data), exif.length});
  }
  return out;
}

}  // namespace lookout::image
