#include <system_error>

#include "cli/commands.h"

namespace lookout::cli {

std::filesystem::path resolve_default(const std::string& path, const char* default_path) {
  namespace fs = std::filesystem;
  if (path != default_path || fs::exists(path)) return path;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const fs::path& dir : {exe.parent_path().parent_path(), exe.parent_path()})
      if (fs::exists(dir / path)) return dir / path;
  return path;
}

}  // namespace lookout::cli
