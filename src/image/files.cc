#include "image/files.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace lookout::image {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<fs::path> find_images(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && has_image_extension(it->path())) found.push_back(it->path());
  }
  if (ec) throw std::runtime_error("cannot walk directory " + dir.string() + ": " + ec.message());
  std::sort(found.begin(), found.end());
  return found;
}

std::vector<uint8_t> read_file_bytes(const fs::path& p, size_t max_bytes) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> bytes;
  constexpr size_t kChunk = size_t{1} << 20;
  while (in) {
    if (bytes.size() > max_bytes)
      throw std::runtime_error("file larger than " + std::to_string(max_bytes >> 20) + " MiB, not read");
    const size_t have = bytes.size();
    bytes.resize(have + kChunk);
    in.read(reinterpret_cast<char*>(bytes.data() + have), static_cast<std::streamsize>(kChunk));
    bytes.resize(have + static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error(std::string("cannot read: ") + std::strerror(errno));
  return bytes;
}

}  // namespace lookout::image
