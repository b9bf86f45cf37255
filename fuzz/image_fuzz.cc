// Fuzz target: the image path as the detector runs it. Bytes -> format sniff
// -> JPEG (TurboJPEG, DCT-scaled to cover 300x300) or PNG (libspng) decode
// -> EXIF orientation -> bilinear resize to the model input. A refusal is an
// image::DecodeError (TooLargeError included); anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lookout::image;
  DecodeOptions options;
  options.min_width = 300;
  options.min_height = 300;
  // The server's default is 50 Mpx; 16 keeps one input's buffers well under
  // libFuzzer's memory limit while still decoding every seed photo.
  options.max_pixels = 16'000'000;
  options.apply_orientation = true;
  try {
    const Decoded decoded = decode(std::span(data, size), options);
    const Image model_input = resize_bilinear(decoded.image, 300, 300);
    if (model_input.rgb.size() != 300u * 300u * 3u) __builtin_trap();
  } catch (const DecodeError&) {
  }
  return 0;
}
