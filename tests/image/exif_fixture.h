// EXIF orientation fixtures made at test time: from an upright picture, the
// JPEG a camera held sideways (or a mirroring app) would have written for
// each orientation tag 1-8, so that a viewer honouring the tag shows the
// upright picture again. Shared by the image tests and the detector tests
// (which check that boxes come back in the upright picture's pixels).
//
//   const Image upright = ...;                       // e.g. decoded dog.jpg
//   std::vector<uint8_t> jpeg = testing::oriented_jpeg(upright, 6);
//   // decode(jpeg, ...) must give back `upright` (within JPEG loss), orientation 6
//
// Independent of src/image/orient.cc: the stored pixels are built from
// elementary flips (mirror, transpose) composed per the EXIF spec's table,
// not from orient.cc's per-pixel formulas.
#pragma once

#include <turbojpeg.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/image.h"
#include "image_test_util.h"

namespace lookout::image::testing {

namespace flips {

inline const uint8_t* px(const Image& img, int x, int y) {
  return &img.rgb[(static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x)) * 3];
}

inline Image blank(int w, int h) {
  Image out;
  out.width = w;
  out.height = h;
  out.rgb.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  return out;
}

inline void put(Image& img, int x, int y, const uint8_t* src) {
  uint8_t* d = &img.rgb[(static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x)) * 3];
  d[0] = src[0];
  d[1] = src[1];
  d[2] = src[2];
}

// Left-right flip.
inline Image mirror_h(const Image& s) {
  Image o = blank(s.width, s.height);
  for (int y = 0; y < s.height; y++)
    for (int x = 0; x < s.width; x++) put(o, s.width - 1 - x, y, px(s, x, y));
  return o;
}

// Top-bottom flip.
inline Image mirror_v(const Image& s) {
  Image o = blank(s.width, s.height);
  for (int y = 0; y < s.height; y++)
    for (int x = 0; x < s.width; x++) put(o, x, s.height - 1 - y, px(s, x, y));
  return o;
}

// Flip over the main diagonal: rows become columns.
inline Image transpose(const Image& s) {
  Image o = blank(s.height, s.width);
  for (int y = 0; y < s.height; y++)
    for (int x = 0; x < s.width; x++) put(o, y, x, px(s, x, y));
  return o;
}

inline Image rotate_cw(const Image& s) { return mirror_h(transpose(s)); }
inline Image rotate_ccw(const Image& s) { return mirror_v(transpose(s)); }
inline Image rotate_180(const Image& s) { return mirror_v(mirror_h(s)); }

}  // namespace flips

// The pixels to store so that a viewer applying EXIF `orientation` shows
// `upright`: the inverse of what the tag asks the viewer to do
// (2 mirror horizontal, 3 rotate 180, 4 mirror vertical, 5 transpose,
// 6 rotate 90 CW, 7 transverse, 8 rotate 90 CCW; 2-5 and 7 are their own
// inverse, 6 and 8 are each other's).
inline Image stored_for_orientation(const Image& upright, int orientation) {
  using namespace flips;
  switch (orientation) {
    case 1: return upright;
    case 2: return mirror_h(upright);
    case 3: return rotate_180(upright);
    case 4: return mirror_v(upright);
    case 5: return transpose(upright);
    case 6: return rotate_ccw(upright);                // viewer rotates it 90 CW
    case 7: return rotate_180(transpose(upright));     // transverse: anti-diagonal flip
    case 8: return rotate_cw(upright);                 // viewer rotates it 90 CCW
    default: throw std::invalid_argument("orientation " + std::to_string(orientation) + " is not 1-8");
  }
}

// A TIFF-structured EXIF block (what follows "Exif\0\0" in APP1, or a PNG
// eXIf chunk's data) in either byte order: IFD0 with a Make tag (ASCII,
// inline) and then the Orientation tag 0x0112 (SHORT, count 1), no next IFD.
inline std::vector<uint8_t> exif_tiff(int orientation, bool big_endian) {
  std::vector<uint8_t> t;
  auto u16 = [&](uint32_t v) {
    if (big_endian) {
      t.insert(t.end(), {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
    } else {
      t.insert(t.end(), {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)});
    }
  };
  auto u32 = [&](uint32_t v) {
    if (big_endian) {
      u16(v >> 16);
      u16(v & 0xFFFF);
    } else {
      u16(v & 0xFFFF);
      u16(v >> 16);
    }
  };
  t.insert(t.end(), big_endian ? std::initializer_list<uint8_t>{'M', 'M'} : std::initializer_list<uint8_t>{'I', 'I'});
  u16(42);
  u32(8);  // IFD0 right after the header
  u16(2);  // entries
  u16(0x010F);  // Make, ASCII, 4 bytes inline
  u16(2);
  u32(4);
  t.insert(t.end(), {'L', 'k', 't', 0});
  u16(0x0112);  // Orientation, SHORT, 1 value, left-justified in the 4-byte field
  u16(3);
  u32(1);
  u16(static_cast<uint32_t>(orientation));
  u16(0);
  u32(0);  // no IFD1
  return t;
}

// The JPEG with an APP1 "Exif\0\0" segment holding `tiff` inserted right
// after SOI.
inline std::vector<uint8_t> with_exif_app1(std::span<const uint8_t> jpeg, std::span<const uint8_t> tiff) {
  if (jpeg.size() < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw std::invalid_argument("not a JPEG");
  const size_t length = 2 + 6 + tiff.size();
  if (length > 0xFFFF) throw std::invalid_argument("EXIF block too long for one APP1 segment");
  // Sized exactly up front (ASan then sees any read past the end).
  const uint8_t head[] = {0xFF, 0xE1, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length & 0xFF),
                          'E',  'x',  'i',  'f', 0, 0};
  std::vector<uint8_t> out(jpeg.size() + sizeof head + tiff.size());
  auto at = out.begin();
  at = std::copy_n(jpeg.begin(), 2, at);  // SOI
  at = std::copy(std::begin(head), std::end(head), at);
  at = std::copy(tiff.begin(), tiff.end(), at);
  std::copy(jpeg.begin() + 2, jpeg.end(), at);
  return out;
}

// The whole fixture: `upright` stored for `orientation`, compressed with
// TurboJPEG (4:4:4, default quality 95), tagged with an EXIF block in the
// given byte order. Orientation 1 still gets the tag.
inline std::vector<uint8_t> oriented_jpeg(const Image& upright, int orientation, bool big_endian = false,
                                          int quality = 95) {
  const Image stored = stored_for_orientation(upright, orientation);
  const std::vector<uint8_t> jpeg =
      compress_jpeg(stored.rgb, stored.width, stored.height, TJPF_RGB, TJSAMP_444, quality);
  return with_exif_app1(jpeg, exif_tiff(orientation, big_endian));
}

// Mean absolute difference per sample of two same-sized images (a large
// value when the sizes differ).
inline double mean_abs_diff(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.rgb.size() != b.rgb.size() || a.rgb.empty()) return 1e9;
  double sum = 0;
  for (size_t i = 0; i < a.rgb.size(); i++) sum += a.rgb[i] > b.rgb[i] ? a.rgb[i] - b.rgb[i] : b.rgb[i] - a.rgb[i];
  return sum / static_cast<double>(a.rgb.size());
}

}  // namespace lookout::image::testing
