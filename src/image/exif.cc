// EXIF orientation from a TIFF-structured block (EXIF 2.3, section 4.6):
//   header: "II" (little-endian) or "MM" (big-endian), 42, offset of IFD0
//   IFD:    u16 entry count, then 12-byte entries: tag u16, type u16,
//           count u32, value or offset u32 (values of <= 4 bytes sit
//           left-justified in that field)
// Only IFD0 is read (IFD1 describes the thumbnail); no offset is followed
// except IFD0's, so there are no loops to guard. Every read goes through
// Reader, which checks the bounds: a malformed block means orientation 1.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "image/formats.h"

namespace lookout::image {

namespace {

constexpr uint16_t kTiffMagic = 42;
constexpr uint16_t kTagOrientation = 0x0112;
constexpr uint16_t kTypeShort = 3;
constexpr uint16_t kTypeLong = 4;  // not what the spec says, but seen in the wild
constexpr size_t kTiffHeaderSize = 8;
constexpr size_t kIfdEntrySize = 12;

// Bounds-checked integer reads in the block's byte order.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, bool big_endian) : bytes_(bytes), big_endian_(big_endian) {}

  std::optional<uint16_t> u16(size_t offset) const {
    if (offset > bytes_.size() || bytes_.size() - offset < 2) return std::nullopt;
    const uint16_t a = bytes_[offset], b = bytes_[offset + 1];
    return static_cast<uint16_t>(big_endian_ ? (a << 8) | b : (b << 8) | a);
  }

  std::optional<uint32_t> u32(size_t offset) const {
    const auto hi = u16(big_endian_ ? offset : offset + 2);
    const auto lo = u16(big_endian_ ? offset + 2 : offset);
    if (!hi || !lo) return std::nullopt;  // both halves inside: all 4 bytes are
    return (static_cast<uint32_t>(*hi) << 16) | *lo;
  }

 private:
  std::span<const uint8_t> bytes_;
  bool big_endian_;
};

}  // namespace

int exif_orientation(std::span<const uint8_t> tiff) {
  if (tiff.size() < kTiffHeaderSize) return kOrientationNormal;
  bool big_endian = false;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    big_endian = false;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else {
    return kOrientationNormal;
  }
  const Reader r(tiff, big_endian);
  if (r.u16(2) != kTiffMagic) return kOrientationNormal;
  const std::optional<uint32_t> ifd0 = r.u32(4);
  if (!ifd0) return kOrientationNormal;
  const std::optional<uint16_t> count = r.u16(*ifd0);
  if (!count) return kOrientationNormal;

  for (size_t i = 0; i < *count; i++) {
    const size_t entry = static_cast<size_t>(*ifd0) + 2 + i * kIfdEntrySize;
    const std::optional<uint16_t> tag = r.u16(entry);
    if (!tag) break;  // the entry table runs past the end: nothing more to read
    if (*tag != kTagOrientation) continue;
    const std::optional<uint16_t> type = r.u16(entry + 2);
    const std::optional<uint32_t> n = r.u32(entry + 4);
    if (!type || !n || *n < 1) return kOrientationNormal;
    std::optional<uint32_t> value;
    if (*type == kTypeShort) {
      value = r.u16(entry + 8);
    } else if (*type == kTypeLong) {
      value = r.u32(entry + 8);
    }
    if (!value || *value < kOrientationNormal || *value > kOrientationMax) return kOrientationNormal;
    return static_cast<int>(*value);
  }
  return kOrientationNormal;
}

}  // namespace lookout::image
