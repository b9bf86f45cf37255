// Private to src/image: the one owner of a TurboJPEG handle (a compressor for
// encode.cc, a decompressor for jpeg.cc).
#pragma once

#include <turbojpeg.h>

#include <stdexcept>
#include <string>

namespace lookout::image {

class TurboJpegHandle {
 public:
  // `handle` from tjInitCompress() or tjInitDecompress(); null (out of
  // memory, not the image's fault) throws a plain runtime_error naming `what`.
  TurboJpegHandle(tjhandle handle, const char* what) : handle_(handle) {
    if (handle_ == nullptr)
      throw std::runtime_error(std::string("cannot create a TurboJPEG ") + what + ": " + tjGetErrorStr2(nullptr));
  }
  ~TurboJpegHandle() { tjDestroy(handle_); }
  TurboJpegHandle(const TurboJpegHandle&) = delete;
  TurboJpegHandle& operator=(const TurboJpegHandle&) = delete;
  tjhandle get() const { return handle_; }

 private:
  tjhandle handle_;
};

}  // namespace lookout::image
