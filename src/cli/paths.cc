#include <sched.h>

#include <algorithm>
#include <system_error>
#include <thread>

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

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace lookout::cli
