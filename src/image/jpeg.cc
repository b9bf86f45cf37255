// JPEG decoding with TurboJPEG (libjpeg-turbo 2.1's tj2 API: tjInitDecompress,
// tjDecompressHeader3, tjDecompress2), scaled in the DCT to the smallest size
// that still covers the model input.
#include <turbojpeg.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "image/image.h"

namespace lookout::image {

namespace {

// The one owner of a TurboJPEG decompressor handle.
class Decompressor {
 public:
  Decompressor() : handle_(tjInitDecompress()) {
    // Not the image's fault (out of memory): a plain runtime_error, not DecodeError.
    if (handle_ == nullptr) {
      throw std::runtime_error(std::string("cannot create a TurboJPEG decoder: ") + tjGetErrorStr2(nullptr));
    }
  }
  ~Decompressor() { tjDestroy(handle_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  tjhandle get() const { return handle_; }

 private:
  tjhandle handle_;
};

// libjpeg warnings after which the decoded pixels are still complete and
// right (only the first warning's text is reported, and a later error
// overwrites it, so "first and only reported" is what we can check).
constexpr std::array<std::string_view, 4> kHarmlessWarnings = {
    "extraneous bytes before marker",   // JWRN_EXTRANEOUS_DATA: padding between segments
    "unknown JFIF revision number",     // JWRN_JFIF_MAJOR
    "Unknown Adobe color transform",    // JWRN_ADOBE_XFORM
    "bad ICC marker",                   // JWRN_BOGUS_ICC: we ignore ICC profiles anyway
};
// JWRN_JPEG_EOF: the source manager ran out of bytes and faked an EOI.
constexpr std::string_view kTruncatedWarning = "Premature end of JPEG file";

// Turns a TurboJPEG failure (return value -1) into DecodeError, or returns
// normally if it was only a harmless warning. `what` names the step.
void check_tj(tjhandle h, int rc, std::string_view what, size_t size) {
  if (rc == 0) return;
  const std::string reason = tjGetErrorStr2(h);
  const bool warning = tjGetErrorCode(h) == TJERR_WARNING;
  if (warning) {
    for (std::string_view w : kHarmlessWarnings) {
      if (reason.find(w) != std::string::npos) return;
    }
  }
  if (reason.find(kTruncatedWarning) != std::string::npos) {
    throw DecodeError("truncated JPEG (" + std::to_string(size) + " bytes): " + std::string(what) + ": " + reason);
  }
  throw DecodeError(std::string(warning ? "corrupt JPEG: " : "invalid JPEG: ") + std::string(what) + ": " + reason);
}

// The smallest scaling factor <= 1 whose output covers min_w x min_h, or 1/1.
tjscalingfactor choose_scale(int width, int height, int min_w, int min_h) {
  int n = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&n);
  tjscalingfactor best{1, 1};
  if (factors == nullptr) return best;
  for (int i = 0; i < n; i++) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom) continue;  // upscaling: never useful here
    if (TJSCALED(width, f) < min_w || TJSCALED(height, f) < min_h) continue;
    if (f.num * best.denom < best.num * f.denom) best = f;  // f < best
  }
  return best;
}

const char* colorspace_name(int cs) {
  switch (cs) {
    case TJCS_RGB: return "RGB";
    case TJCS_YCbCr: return "YCbCr";
    case TJCS_GRAY: return "grayscale";
    case TJCS_CMYK: return "CMYK";
    case TJCS_YCCK: return "YCCK";
    default: return "unknown";
  }
}

// Adobe-inverted CMYK (0 = full ink) to RGB: R = C * K / 255, rounded, as in
// libjpeg-turbo's cmyk.h (cmyk_to_rgb) used by its tools and tests.
void cmyk_to_rgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; i++) {
    const unsigned k = cmyk[4 * i + 3];
    for (size_t c = 0; c < 3; c++) {
      rgb[3 * i + c] = static_cast<uint8_t>((2u * cmyk[4 * i + c] * k + 255u) / 510u);
    }
  }
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, int min_width, int min_height) {
  if (min_width < 0 || min_height < 0) {
    throw std::invalid_argument("decode_jpeg: minimum size " + std::to_string(min_width) + "x" +
                                std::to_string(min_height) + " must not be negative");
  }
  if (bytes.empty()) throw DecodeError("empty file");

  Decompressor dec;
  // TurboJPEG's API is not const-correct in 2.1; it does not write the input.
  auto* jpeg = const_cast<unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());

  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  check_tj(dec.get(), tjDecompressHeader3(dec.get(), jpeg, size, &width, &height, &subsamp, &colorspace),
           "header", bytes.size());
  if (width <= 0 || height <= 0) {
    // TurboJPEG 2.1 reports a stream that ends before any frame header
    // (SOFn) as a valid "tables-only" JPEG of size 0x0: for us, truncated.
    throw DecodeError("truncated JPEG (" + std::to_string(bytes.size()) +
                      " bytes): header: the data ends before the frame header (no image size)");
  }

  const tjscalingfactor scale = choose_scale(width, height, min_width, min_height);
  Image out;
  out.width = TJSCALED(width, scale);
  out.height = TJSCALED(height, scale);
  const size_t pixels = static_cast<size_t>(out.width) * static_cast<size_t>(out.height);

  // LIMITSCANS: refuse progressive files with > 500 scans (a known CPU DoS).
  const int flags = TJFLAG_LIMITSCANS;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  if (!cmyk) {
    out.rgb.resize(pixels * 3);
    check_tj(dec.get(),
             tjDecompress2(dec.get(), jpeg, size, out.rgb.data(), out.width, 0, out.height, TJPF_RGB, flags),
             std::string(colorspace_name(colorspace)) + " image data", bytes.size());
  } else {
    std::vector<uint8_t> buf(pixels * 4);
    check_tj(dec.get(),
             tjDecompress2(dec.get(), jpeg, size, buf.data(), out.width, 0, out.height, TJPF_CMYK, flags),
             std::string(colorspace_name(colorspace)) + " image data", bytes.size());
    out.rgb.resize(pixels * 3);
    cmyk_to_rgb(buf.data(), pixels, out.rgb.data());
  }
  return out;
}

}  // namespace lookout::image
