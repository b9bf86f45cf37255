// RGB8 -> JPEG with TurboJPEG (tj2 API: tjInitCompress, tjCompress2).
#include <turbojpeg.h>

#include <stdexcept>
#include <string>

#include "image/image.h"
#include "image/turbojpeg_handle.h"

namespace lookout::image {

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3)
    throw std::invalid_argument("encode_jpeg: inconsistent image");
  if (quality < 1 || quality > 100) throw std::invalid_argument("encode_jpeg: quality must be 1-100");
  const TurboJpegHandle c(tjInitCompress(), "compressor");
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(c.get(), img.rgb.data(), img.width, 0, img.height, TJPF_RGB, &buf, &size, TJSAMP_420,
                             quality, 0);
  std::vector<uint8_t> out;
  if (rc == 0) out.assign(buf, buf + size);
  tjFree(buf);
  if (rc != 0) throw std::runtime_error(std::string("TurboJPEG: cannot encode: ") + tjGetErrorStr2(c.get()));
  return out;
}

}  // namespace lookout::image
