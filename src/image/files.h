// Photos on disk: which files are images and reading one safely. Shared by
// `lookout detect`, `lookout run` and the collection tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lookout::image {

// .jpg, .jpeg or .png, any case.
bool has_image_extension(const std::filesystem::path& p);

// The image files under `dir`, walked recursively (following directory
// symlinks), sorted by path. Throws std::runtime_error when the directory
// cannot be walked.
std::vector<std::filesystem::path> find_images(const std::filesystem::path& dir);

// The whole file, refusing more than `max_bytes` (a device or pipe named on
// the command line must not eat the memory). Throws std::runtime_error with
// the reason (errno text or the size limit).
inline constexpr size_t kMaxImageFileBytes = size_t{1} << 30;
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& p, size_t max_bytes = kMaxImageFileBytes);

}  // namespace lookout::image
