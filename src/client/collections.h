// The lab's photo collections: SMALL (296), MEDIUM (2070) and BIG (4913)
// JPEGs, as many as the original experiment's, derived from a folder of real
// photos by crop, mirror, scale and JPEG quality so that file sizes spread
// over the experiment's 14-495 KB (KB = 1024 bytes).
//
// Derivation is deterministic: image i of a collection comes from source
// photo i % N (sources sorted by name) with parameters drawn from a
// std::mt19937_64 seeded with (collection seed, i), mapped from its raw
// output by our own arithmetic (the std::*_distribution classes differ
// between standard libraries). Same photos in, byte-identical files out,
// whatever the number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "image/image.h"

namespace lookout::client {

// Every derived file is within [kMinCollectionFileBytes, kMaxCollectionFileBytes].
inline constexpr uint64_t kMinCollectionFileBytes = 14 * 1024;
inline constexpr uint64_t kMaxCollectionFileBytes = 495 * 1024;

struct CollectionSpec {
  std::string name;   // the directory under --out, e.g. "SMALL"
  size_t images = 0;
  uint64_t seed = 0;
};

// SMALL 296, MEDIUM 2070, BIG 4913, in that order.
const std::vector<CollectionSpec>& standard_collections();

// A source photo, decoded upright at full size.
struct SourcePhoto {
  std::string name;  // file name in the source directory
  image::Image image;
};

// The *.jpg, *.jpeg and *.png files directly in `dir` (not its
// subdirectories), sorted by name and decoded. Throws std::runtime_error
// naming the file when one cannot be read or decoded, or when there is none.
std::vector<SourcePhoto> load_sources(const std::filesystem::path& dir);

// How one derived image was made from its source, in order: crop, mirror
// (if flip), resize (bilinear) to width x height, JPEG at quality.
struct Transform {
  int crop_x = 0, crop_y = 0, crop_width = 0, crop_height = 0;
  bool flip = false;
  int width = 0, height = 0;
  int quality = 0;

  // "crop412x300+12+40_flip_1024x746_q85": the file name's transform part.
  std::string text() const;
};

struct DerivedFile {
  std::string file;    // name in the collection directory: 0042_<source stem>_<transform>.jpg
  std::string source;  // source photo's file name
  Transform transform;
  uint64_t bytes = 0;
};

struct DerivedImage {
  DerivedFile meta;
  std::vector<uint8_t> jpeg;
};

// Image `index` of collection `spec`. Pure: same arguments, same bytes.
DerivedImage derive_image(const std::vector<SourcePhoto>& sources, const CollectionSpec& spec, size_t index);

struct MakeOptions {
  int jobs = 1;                                                    // threads
  std::function<void(size_t done, size_t total)> on_progress;      // called from the workers, serialized
};

struct MakeResult {
  std::filesystem::path dir;
  bool already_complete = false;  // nothing written: the collection was there, complete
  size_t images = 0;
  uint64_t min_bytes = 0, max_bytes = 0, total_bytes = 0;
  double seconds = 0;             // wall time of this call
};

// Name of the per-collection manifest: one JSON object per line,
// {"file","source","transform":{crop_x,crop_y,crop_width,crop_height,flip,width,height,quality},"bytes"}.
inline constexpr const char* kManifestName = "manifest.jsonl";

// The manifest of `dir`, or nothing if absent. Throws std::runtime_error on a
// malformed line.
std::vector<DerivedFile> read_manifest(const std::filesystem::path& dir);

// True when `dir` holds a manifest with spec.images entries and every file
// it lists, at the listed size.
bool collection_complete(const std::filesystem::path& dir, const CollectionSpec& spec);

// Builds collection `spec` in out_root / spec.name, unless it is already
// complete. Every file (and the manifest, written last) goes to a temporary
// name first and is renamed into place, so an interrupted run leaves no
// partial file and is simply run again. Numbered files of an earlier,
// different build that this one does not produce are removed.
MakeResult make_collection(const std::vector<SourcePhoto>& sources, const CollectionSpec& spec,
                           const std::filesystem::path& out_root, const MakeOptions& options);

}  // namespace lookout::client
