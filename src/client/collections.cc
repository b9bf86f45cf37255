// Collections derived from real photos (see collections.h). Prepare: draw
// crop, mirror, quality and a target file size from the image's own random
// stream. Eval: crop, mirror, then search the output size whose JPEG lands
// near the target (bytes grow about linearly with pixels, so a few encodes
// converge), always inside the 14-495 KB range.
#include "client/collections.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>

#include "detect/parallel.h"
#include "image/files.h"

namespace lookout::client {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Crop keeps 55-100 % of each side; quality 60-95; target sizes log-uniform
// over the whole range (the search never accepts a size outside it).
constexpr double kMinCropFraction = 0.55;
constexpr int kMinQuality = 60, kMaxQuality = 95;
constexpr double kTargetLow = kMinCollectionFileBytes, kTargetHigh = kMaxCollectionFileBytes;
constexpr double kInitialBitsPerPixel = 2.0;    // first guess; the search corrects it
constexpr double kSizeTolerance = 0.10;         // accept within 10 % of the target...
constexpr int kAttemptsBeforeAnyInRange = 3;    // ...or any in-range size after this many encodes
constexpr int kMaxAttempts = 12;
constexpr int kMinSide = 32, kMaxSide = 6000;
constexpr int kNameDigits = 4;                  // 0000_..9999_: sorts in index order

// [0, 1) from the top 53 bits of one raw draw.
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int round_to_int(double v) { return static_cast<int>(std::lround(v)); }

// Output size of about `pixels` pixels with the crop's aspect ratio.
void size_for_pixels(double pixels, double aspect, int& width, int& height) {
  width = std::clamp(round_to_int(std::sqrt(pixels * aspect)), kMinSide, kMaxSide);
  height = std::clamp(round_to_int(width / aspect), kMinSide, kMaxSide);
}

// Bilinear sampling only looks at 2x2 neighbours, so a large reduction
// aliases; halve first (at exactly 1/2, half-pixel bilinear is a 2x2 box
// average) until the rest is under 2x.
image::Image scale_to(const image::Image& src, int width, int height) {
  const image::Image* from = &src;
  image::Image halved;
  while (from->width >= 2 * width && from->height >= 2 * height) {
    halved = image::resize_bilinear(*from, (from->width + 1) / 2, (from->height + 1) / 2);
    from = &halved;
  }
  return image::resize_bilinear(*from, width, height);
}

bool in_range(uint64_t bytes) { return bytes >= kMinCollectionFileBytes && bytes <= kMaxCollectionFileBytes; }

// Writes to a hidden temporary name beside `target`, then renames it into
// place: readers see the whole file or none.
void write_atomically(const fs::path& target, const void* data, size_t size) {
  const fs::path tmp = target.parent_path() / ("." + target.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp.string() + " to " + target.string() + ": " + ec.message());
}

// "0042_" followed by anything, ending in .jpg: a file this code names.
bool is_numbered_image(const std::string& name) {
  if (name.size() < kNameDigits + 5 || name[kNameDigits] != '_' || !name.ends_with(".jpg")) return false;
  return std::all_of(name.begin(), name.begin() + kNameDigits, [](char c) { return c >= '0' && c <= '9'; });
}

json transform_json(const Transform& t) {
  return {{"crop_x", t.crop_x},   {"crop_y", t.crop_y}, {"crop_width", t.crop_width}, {"crop_height", t.crop_height},
          {"flip", t.flip},       {"width", t.width},   {"height", t.height},         {"quality", t.quality}};
}

}  // namespace

const std::vector<CollectionSpec>& standard_collections() {
  static const std::vector<CollectionSpec> specs = {
      {"SMALL", 296, 0x5a4d414c4c000296},
      {"MEDIUM", 2070, 0x4d454449554d2070},
      {"BIG", 4913, 0x4249470000004913},
  };
  return specs;
}

std::vector<SourcePhoto> load_sources(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error("source photo directory " + dir.string() + " not found (run scripts/setup for data/small)");
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && image::has_image_extension(it->path())) files.push_back(it->path());
  }
  if (ec) throw std::runtime_error("cannot list " + dir.string() + ": " + ec.message());
  if (files.empty()) throw std::runtime_error("no .jpg, .jpeg or .png photos directly in " + dir.string());
  std::sort(files.begin(), files.end());
  std::vector<SourcePhoto> sources;
  for (const fs::path& f : files) {
    try {
      sources.push_back({f.filename().string(), image::decode(image::read_file_bytes(f), image::DecodeOptions{}).image});
    } catch (const std::exception& e) {
      throw std::runtime_error("source photo " + f.string() + ": " + e.what());
    }
  }
  return sources;
}

std::string Transform::text() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "crop%dx%d+%d+%d%s_%dx%d_q%d", crop_width, crop_height, crop_x, crop_y,
                flip ? "_flip" : "", width, height, quality);
  return buf;
}

DerivedImage derive_image(const std::vector<SourcePhoto>& sources, const CollectionSpec& spec, size_t index) {
  if (sources.empty()) throw std::invalid_argument("derive_image: no source photos");
  const SourcePhoto& source = sources[index % sources.size()];
  const image::Image& src = source.image;

  // Prepare: every random draw, in a fixed order.
  std::mt19937_64 rng(spec.seed + 0x9E3779B97F4A7C15ull * (index + 1));
  Transform t;
  t.crop_width = std::clamp(round_to_int(src.width * (kMinCropFraction + (1 - kMinCropFraction) * unit(rng))), 1, src.width);
  t.crop_height = std::clamp(round_to_int(src.height * (kMinCropFraction + (1 - kMinCropFraction) * unit(rng))), 1, src.height);
  t.crop_x = std::min(static_cast<int>(unit(rng) * (src.width - t.crop_width + 1)), src.width - t.crop_width);
  t.crop_y = std::min(static_cast<int>(unit(rng) * (src.height - t.crop_height + 1)), src.height - t.crop_height);
  t.flip = (rng() >> 63) != 0;
  t.quality = kMinQuality + static_cast<int>(rng() % (kMaxQuality - kMinQuality + 1));
  const double target = std::exp(std::log(kTargetLow) + unit(rng) * (std::log(kTargetHigh) - std::log(kTargetLow)));

  // Eval.
  image::Image cropped = image::crop(src, t.crop_x, t.crop_y, t.crop_width, t.crop_height);
  if (t.flip) cropped = image::flip_horizontal(cropped);
  const double aspect = static_cast<double>(t.crop_width) / t.crop_height;
  double pixels = target * 8 / kInitialBitsPerPixel;
  size_for_pixels(pixels, aspect, t.width, t.height);
  std::vector<uint8_t> jpeg;
  for (int attempt = 0;; attempt++) {
    jpeg = image::encode_jpeg(scale_to(cropped, t.width, t.height), t.quality);
    const double ratio = target / static_cast<double>(jpeg.size());
    if (in_range(jpeg.size()) && (std::abs(ratio - 1) < kSizeTolerance || attempt + 1 >= kAttemptsBeforeAnyInRange)) break;
    if (attempt + 1 >= kMaxAttempts)
      throw std::runtime_error("cannot bring " + source.name + " (" + t.text() + ", " + std::to_string(jpeg.size()) +
                               " bytes) into " + std::to_string(kMinCollectionFileBytes) + "-" +
                               std::to_string(kMaxCollectionFileBytes) + " bytes");
    const int old_width = t.width, old_height = t.height;
    pixels *= ratio;
    size_for_pixels(pixels, aspect, t.width, t.height);
    // At the size limits only the quality can still move the size.
    if (t.width == old_width && t.height == old_height) t.quality = std::clamp(t.quality + (ratio > 1 ? 5 : -10), 10, 100);
  }

  DerivedImage out;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%0*zu_", kNameDigits, index);
  out.meta.file = prefix + fs::path(source.name).stem().string() + "_" + t.text() + ".jpg";
  out.meta.source = source.name;
  out.meta.transform = t;
  out.meta.bytes = jpeg.size();
  out.jpeg = std::move(jpeg);
  return out;
}

std::vector<DerivedFile> read_manifest(const fs::path& dir) {
  std::vector<DerivedFile> entries;
  std::ifstream in(dir / kManifestName);
  if (!in) return entries;
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    if (line.empty()) continue;
    try {
      const json j = json::parse(line);
      const json& t = j.at("transform");
      DerivedFile f;
      f.file = j.at("file").get<std::string>();
      f.source = j.at("source").get<std::string>();
      f.bytes = j.at("bytes").get<uint64_t>();
      f.transform = {t.at("crop_x").get<int>(), t.at("crop_y").get<int>(), t.at("crop_width").get<int>(),
                     t.at("crop_height").get<int>(), t.at("flip").get<bool>(), t.at("width").get<int>(),
                     t.at("height").get<int>(), t.at("quality").get<int>()};
      entries.push_back(std::move(f));
    } catch (const json::exception& e) {
      throw std::runtime_error((dir / kManifestName).string() + " line " + std::to_string(n) + ": " + e.what() +
                               " (delete the collection directory to rebuild it)");
    }
  }
  return entries;
}

bool collection_complete(const fs::path& dir, const CollectionSpec& spec) {
  std::vector<DerivedFile> entries;
  try {
    entries = read_manifest(dir);
  } catch (const std::runtime_error&) {
    return false;
  }
  if (entries.size() != spec.images) return false;
  for (const DerivedFile& f : entries) {
    std::error_code ec;
    if (fs::file_size(dir / f.file, ec) != f.bytes || ec) return false;
  }
  return true;
}

MakeResult make_collection(const std::vector<SourcePhoto>& sources, const CollectionSpec& spec, const fs::path& out_root,
                           const MakeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  MakeResult result;
  result.dir = out_root / spec.name;
  const auto finish = [&](const std::vector<DerivedFile>& entries) {
    result.images = entries.size();
    result.min_bytes = entries.empty() ? 0 : UINT64_MAX;
    for (const DerivedFile& f : entries) {
      result.min_bytes = std::min(result.min_bytes, f.bytes);
      result.max_bytes = std::max(result.max_bytes, f.bytes);
      result.total_bytes += f.bytes;
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  };
  if (collection_complete(result.dir, spec)) {
    result.already_complete = true;
    return finish(read_manifest(result.dir));
  }

  std::error_code ec;
  fs::create_directories(result.dir, ec);
  if (ec) throw std::runtime_error("cannot create " + result.dir.string() + ": " + ec.message());
  // An old manifest no longer describes what is there.
  fs::remove(result.dir / kManifestName, ec);

  std::vector<DerivedFile> entries(spec.images);
  std::mutex mutex;  // serializes on_progress
  size_t done = 0;
  detect::parallel_for(spec.images, std::max(1, options.jobs), [&](int, size_t i) {
    try {
      DerivedImage img = derive_image(sources, spec, i);
      write_atomically(result.dir / img.meta.file, img.jpeg.data(), img.jpeg.size());
      entries[i] = std::move(img.meta);
    } catch (const std::exception& e) {
      throw std::runtime_error(spec.name + " image " + std::to_string(i) + ": " + e.what());
    }
    std::lock_guard lock(mutex);
    ++done;
    if (options.on_progress) options.on_progress(done, spec.images);
    return true;
  });

  // Numbered images from an earlier, different build, and stray temporaries.
  std::set<std::string> produced;
  for (const DerivedFile& f : entries) produced.insert(f.file);
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(result.dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if ((is_numbered_image(name) && !produced.contains(name)) || (name.starts_with(".") && name.ends_with(".tmp")))
      stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove(p, ec);

  std::string manifest;
  for (const DerivedFile& f : entries)
    manifest += json{{"file", f.file}, {"source", f.source}, {"transform", transform_json(f.transform)}, {"bytes", f.bytes}}.dump() + "\n";
  write_atomically(result.dir / kManifestName, manifest.data(), manifest.size());
  return finish(entries);
}

}  // namespace lookout::client
