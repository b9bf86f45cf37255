// JPEG decoding with TurboJPEG (libjpeg-turbo 2.1's tj2 API: tjInitDecompress,
// tjDecompressHeader3, tjDecompress2), scaled in the DCT to a size that still
// covers the model input (choose_scale says which); and the marker scan that
// finds the declared size and the EXIF block before any pixel is decoded.
#include <turbojpeg.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "image/formats.h"
#include "image/image.h"
#include "image/turbojpeg_handle.h"

namespace lookout::image {

namespace {

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

// The DCT scale to decode at: the smallest power of two (1/8, 1/4, 1/2, 1)
// whose output covers min_w x min_h, or 1/1 if none does; except that for
// 4:4:0 and 4:1:1 chroma a smaller covering non-power-of-two scale is taken
// when it has at most half the pixels of that power of two (in practice 5/8
// instead of 1/1, the only such pair: 25/64 of the pixels).
//
// Why: libjpeg-turbo 2.1 has SIMD inverse DCTs only for 8x8, 4x4 and 2x2
// outputs (scales 1, 1/2, 1/4; 1/8 is the DC alone); 3/8, 5/8, 3/4 and 7/8
// run scalar IDCTs, which cost more than they save in pixels. Measured here
// (decode + resize_bilinear to 300x300, min of 30 alternating runs, all 33
// photos of data/small): no 3/4 or 7/8 ever beat 1/1 (7/8: 1.3-2x slower);
// 3/8 was never clearly faster than 1/2 (kite 1352x900: 13.7 vs 13.5 ms,
// dogs 900x916: 8.6 vs 8.6, bald_guys 1986x1545: 8.7 vs 7.5); 5/8 lost to
// 1/1 on every 4:4:4 and 4:2:0 photo (burger 768x512 4:2:0: 3.27 vs 3.00
// ms; 00000100 1000x563: 2.81 vs 2.34; giraffe 500x500 4:4:4: 3.86 vs 3.77)
// but won on the three 4:4:0 ones (dog 768x576:
// 2.78 vs 3.04 ms; eagle and horses 773x512: 2.48 vs 2.65, 2.42 vs 2.60),
// whose full-size decode pays a scalar chroma upsampler (there is no x86
// SIMD one for 4:4:0 or 4:1:1) on every pixel. The same photos re-encoded
// at each subsampling: 5/8 / 1/1 time = 1.09-1.14 (4:4:4), 1.02-1.03
// (4:2:2), 1.15-1.18 (4:2:0), 0.89-0.93 (4:4:0), 0.86-0.96 (4:1:1); 3/4 and
// 3/8 never won by more than run-to-run noise. Powers of two also take a
// 4000x3000 photo down to 1/8 (500x375) for a 300x300 model input.
tjscalingfactor choose_scale(int width, int height, int subsamp, int min_w, int min_h) {
  int n = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&n);
  tjscalingfactor best{1, 1};
  if (factors == nullptr) return best;
  const auto covers = [&](tjscalingfactor f) { return TJSCALED(width, f) >= min_w && TJSCALED(height, f) >= min_h; };
  const auto smaller = [](tjscalingfactor a, tjscalingfactor b) { return a.num * b.denom < b.num * a.denom; };
  const auto power_of_two = [](tjscalingfactor f) { return f.num == 1 || f.num == f.denom; };  // 1/denom or 1/1
  for (int i = 0; i < n; i++) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom || !power_of_two(f)) continue;  // upscaling is never useful here
    if (covers(f) && smaller(f, best)) best = f;
  }
  if (subsamp != TJSAMP_440 && subsamp != TJSAMP_411) return best;
  const auto pixels = [&](tjscalingfactor f) {
    return static_cast<uint64_t>(TJSCALED(width, f)) * static_cast<uint64_t>(TJSCALED(height, f));
  };
  tjscalingfactor pick = best;
  for (int i = 0; i < n; i++) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom || power_of_two(f) || !covers(f)) continue;
    if (2 * pixels(f) <= pixels(best) && smaller(f, pick)) pick = f;
  }
  return pick;
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

// JPEG markers (ITU T.81, B.1.1.3-B.1.1.4): 0xFF, then a code; these few
// stand alone, every other one is followed by a big-endian u16 length that
// counts itself.
constexpr uint8_t kMarkerPrefix = 0xFF;
constexpr uint8_t kSoi = 0xD8, kEoi = 0xD9, kSos = 0xDA, kTem = 0x01;
constexpr uint8_t kRst0 = 0xD0, kRst7 = 0xD7;
constexpr uint8_t kApp1 = 0xE1;
constexpr std::array<uint8_t, 6> kExifId = {'E', 'x', 'i', 'f', 0, 0};
constexpr size_t kSofSizeBytes = 5;  // sample precision u8, height u16, width u16

// SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
bool is_sof(uint8_t code) { return code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC; }

uint16_t be16(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

// The TurboJPEG decode behind decode_jpeg and decode(): refuses a frame above
// max_pixels from the header, before allocating or decompressing.
Image decode_jpeg_limited(std::span<const uint8_t> bytes, int min_width, int min_height, uint64_t max_pixels,
                          int* full_width, int* full_height) {
  if (min_width < 0 || min_height < 0) {
    throw std::invalid_argument("decode_jpeg: minimum size " + std::to_string(min_width) + "x" +
                                std::to_string(min_height) + " must not be negative");
  }
  if (bytes.empty()) throw DecodeError("empty file");

  const TurboJpegHandle dec(tjInitDecompress(), "decoder");
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
  check_pixel_limit(static_cast<uint64_t>(width), static_cast<uint64_t>(height), max_pixels);
  *full_width = width;
  *full_height = height;

  const tjscalingfactor scale = choose_scale(width, height, subsamp, min_width, min_height);
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

}  // namespace

JpegHeader scan_jpeg_header(std::span<const uint8_t> jpeg) {
  JpegHeader header;
  if (jpeg.size() < 2 || jpeg[0] != kMarkerPrefix || jpeg[1] != kSoi) return header;
  size_t pos = 2;
  while (pos < jpeg.size()) {
    if (jpeg[pos] != kMarkerPrefix) break;  // not a marker where one must be: TurboJPEG will say
    while (pos < jpeg.size() && jpeg[pos] == kMarkerPrefix) pos++;  // fill bytes
    if (pos >= jpeg.size()) break;
    const uint8_t code = jpeg[pos++];
    if (code == kSos || code == kEoi || code == 0) break;  // entropy-coded data (or nonsense) follows
    if (code == kTem || code == kSoi || (code >= kRst0 && code <= kRst7)) continue;  // no length
    if (jpeg.size() - pos < 2) break;
    const size_t length = be16(jpeg, pos);
    if (length < 2 || length > jpeg.size() - pos) break;  // runs past the end
    const std::span<const uint8_t> payload = jpeg.subspan(pos + 2, length - 2);
    if (is_sof(code) && !header.width && payload.size() >= kSofSizeBytes) {
      const int height = be16(payload, 1), width = be16(payload, 3);
      header.width = width;
      if (height > 0) header.height = height;  // 0: given by a DNL segment after the first scan
    } else if (code == kApp1 && header.exif_tiff.empty() && payload.size() >= kExifId.size() &&
               std::memcmp(payload.data(), kExifId.data(), kExifId.size()) == 0) {
      header.exif_tiff = payload.subspan(kExifId.size());
    }
    pos += length;
  }
  return header;
}

Image decode_jpeg(std::span<const uint8_t> bytes, int min_width, int min_height) {
  int full_width = 0, full_height = 0;
  return decode_jpeg_limited(bytes, min_width, min_height, std::numeric_limits<uint64_t>::max(), &full_width,
                             &full_height);
}

StoredImage decode_jpeg_stored(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  const JpegHeader header = scan_jpeg_header(bytes);
  // From our own scan first: TurboJPEG refuses frames above 65500 pixels a
  // side with its own message, and a 65535x65535 frame is "too large" too.
  if (header.width && header.height) {
    check_pixel_limit(static_cast<uint64_t>(*header.width), static_cast<uint64_t>(*header.height),
                      options.max_pixels);
  }
  StoredImage out;
  out.orientation = exif_orientation(header.exif_tiff);
  // The minimum is for the upright picture; a transposed one (EXIF 5-8) is
  // stored with its sides swapped, so the minimum is swapped too.
  const bool swap = options.apply_orientation && orientation_swaps_axes(out.orientation);
  out.image = decode_jpeg_limited(bytes, swap ? options.min_height : options.min_width,
                                  swap ? options.min_width : options.min_height, options.max_pixels,
                                  &out.full_width, &out.full_height);
  return out;
}

}  // namespace lookout::image
