// PNGs made at test time: libspng's encoder for well-formed files of every
// colour type, and hand-built chunks (with a correct CRC) for hostile ones.
#pragma once

#include <spng.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace lookout::image::testing {

struct PngSpec {
  uint32_t width = 0, height = 0;
  uint8_t color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  uint8_t bit_depth = 8;
  bool interlaced = false;
  std::vector<std::array<uint8_t, 3>> palette = {};  // for SPNG_COLOR_TYPE_INDEXED
  std::vector<uint8_t> exif = {};                    // eXIf chunk data (TIFF block), if any
};

// Encodes `samples` (the PNG's own layout, 16-bit samples host-endian, rows
// packed without padding) with libspng.
inline std::vector<uint8_t> encode_png(const PngSpec& spec, const std::vector<uint8_t>& samples) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  if (ctx == nullptr) throw std::runtime_error("spng_ctx_new");
  std::string err;
  auto check = [&](int rc, const char* what) {
    if (rc != 0 && err.empty()) err = std::string(what) + ": " + spng_strerror(rc);
  };
  check(spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1), "option");
  spng_ihdr ihdr{};
  ihdr.width = spec.width;
  ihdr.height = spec.height;
  ihdr.bit_depth = spec.bit_depth;
  ihdr.color_type = spec.color_type;
  ihdr.interlace_method = spec.interlaced ? SPNG_INTERLACE_ADAM7 : SPNG_INTERLACE_NONE;
  check(spng_set_ihdr(ctx, &ihdr), "ihdr");
  if (!spec.palette.empty()) {
    spng_plte plte{};
    plte.n_entries = static_cast<uint32_t>(spec.palette.size());
    for (size_t i = 0; i < spec.palette.size(); i++) {
      plte.entries[i].red = spec.palette[i][0];
      plte.entries[i].green = spec.palette[i][1];
      plte.entries[i].blue = spec.palette[i][2];
    }
    check(spng_set_plte(ctx, &plte), "plte");
  }
  std::vector<uint8_t> exif_copy = spec.exif;
  if (!exif_copy.empty()) {
    spng_exif exif{};
    exif.length = exif_copy.size();
    exif.data = reinterpret_cast<char*>(exif_copy.data());
    check(spng_set_exif(ctx, &exif), "exif");
  }
  check(spng_encode_image(ctx, samples.data(), samples.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), "encode");
  std::vector<uint8_t> out;
  if (err.empty()) {
    size_t len = 0;
    int rc = 0;
    void* buf = spng_get_png_buffer(ctx, &len, &rc);
    check(rc, "buffer");
    if (buf != nullptr) {
      out.assign(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
      std::free(buf);
    }
  }
  spng_ctx_free(ctx);
  if (!err.empty()) throw std::runtime_error("encode_png: " + err);
  return out;
}

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  out.insert(out.end(), {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                         static_cast<uint8_t>(v)});
}

// One chunk: length, type, data, CRC over type + data (PNG's CRC is zlib's
// CRC-32).
inline void append_chunk(std::vector<uint8_t>& png, const char (&type)[5], const std::vector<uint8_t>& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> typed(type, type + 4);
  typed.insert(typed.end(), data.begin(), data.end());
  png.insert(png.end(), typed.begin(), typed.end());
  put_be32(png, static_cast<uint32_t>(crc32(0, typed.data(), static_cast<uInt>(typed.size()))));
}

// Signature + a valid IHDR declaring width x height (8-bit RGB), nothing else.
inline std::vector<uint8_t> png_header_only(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  ihdr.insert(ihdr.end(), {8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0});
  append_chunk(png, "IHDR", ihdr);
  return png;
}

}  // namespace lookout::image::testing
