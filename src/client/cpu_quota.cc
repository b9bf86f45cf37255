#include "client/cpu_quota.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace lookout::client {

namespace {

namespace fs = std::filesystem;

// The period is as short as the kernel allows for the cap (its floor for a
// quota is 1 ms; a period is 1 ms to 1 s): 4 ms for 0.25 CPU, 2 ms for 0.5.
// Measured on the lab's server at 0.5 CPU, one request at a time (~10 ms
// of inference, then idle until the next request): a 10 ms period slowed
// inference only 1.0-1.2x, a 2 ms period 2.1x, the cap's own ratio.
constexpr long kMinQuotaUs = 1000;
constexpr long kMinPeriodUs = 1000;
constexpr long kMaxPeriodUs = 1000000;
constexpr double kMinCores = static_cast<double>(kMinQuotaUs) / static_cast<double>(kMaxPeriodUs);
// Groups are named after the process: a crashed one's group is found by its dead pid.
constexpr const char* kGroupPrefix = "lookout-cpu-";

// One cgroup filesystem from /proc/self/mountinfo.
struct CgroupMount {
  std::string root;   // the directory of the hierarchy mounted there
  fs::path point;     // where it is mounted
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: from the mount options
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// One write(2), as the cgroup files expect; the error names the file, the value and the reason.
void write_text(const fs::path& file, const std::string& text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write '" + text + "' to " + file.string() + ": " + std::strerror(err));
}

std::vector<CgroupMount> cgroup_mounts() {
  std::vector<CgroupMount> mounts;
  std::ifstream in("/proc/self/mountinfo");
  // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER-OPTIONS
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = split(line, ' ');
    const auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    const std::string& type = dash[1];
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMount m{f[3], f[4], type == "cgroup2", {}};
    if (!m.v2) m.controllers = split(dash[3], ',');
    mounts.push_back(std::move(m));
  }
  return mounts;
}

// This process's cgroup in a hierarchy, as a directory under its mount.
fs::path current_group(const CgroupMount& m, const std::string& path) {
  std::string rel = path;
  if (m.root != "/" && rel.starts_with(m.root)) rel = rel.substr(m.root.size());
  const fs::path under = fs::path(rel).relative_path();
  return under.empty() ? m.point : m.point / under;
}

// Where this process's group is made, in which cgroup version, and the
// cgroup it is in now; or why that cannot be done.
struct Placement {
  bool v2 = false;
  fs::path base;     // the new group's parent directory
  fs::path current;  // the process's cgroup now
  std::string error;
};

std::string not_writable(const fs::path& dir) {
  if (::access(dir.c_str(), W_OK) == 0) return "";
  if (errno == EROFS)
    return dir.string() + " is mounted read-only (in a container: run it privileged, or with the cgroup filesystem "
                          "writable)";
  return "capping CPU makes a cgroup in " + dir.string() + ", which needs root: run as root (sudo)";
}

Placement find_placement() {
  // ID:CONTROLLERS:PATH per hierarchy; v2 is the line with no controllers.
  std::string v1_path, v2_path;
  bool have_v2_line = false;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);) {
      const size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (controllers.empty()) {
        v2_path = path;
        have_v2_line = true;
      } else if (contains(split(controllers, ','), "cpu")) {
        v1_path = path;
      }
    }
  }
  const std::vector<CgroupMount> mounts = cgroup_mounts();
  Placement p;
  for (const CgroupMount& m : mounts) {
    if (m.v2 || !contains(m.controllers, "cpu") || v1_path.empty()) continue;
    p.current = p.base = current_group(m, v1_path);
    p.error = not_writable(p.base);
    return p;
  }
  for (const CgroupMount& m : mounts) {
    if (!m.v2 || !have_v2_line) continue;
    p.v2 = true;
    p.current = current_group(m, v2_path);
    if (!contains(split(read_text(m.point / "cgroup.controllers"), ' '), "cpu"))
      break;
    // A v2 group with processes of its own can give no controller to its
    // children (the root excepted): the new group goes beside the current
    // one, and every group from the root down to its parent hands cpu on.
    p.base = p.current == m.point ? p.current : p.current.parent_path();
    std::vector<fs::path> chain{p.base};
    while (chain.back() != m.point && chain.back() != chain.back().parent_path())
      chain.push_back(chain.back().parent_path());
    for (auto dir = chain.rbegin(); dir != chain.rend(); ++dir) {
      if (contains(split(read_text(*dir / "cgroup.subtree_control"), ' '), "cpu")) continue;
      if (!(p.error = not_writable(*dir)).empty()) return p;
      try {
        write_text(*dir / "cgroup.subtree_control", "+cpu");
      } catch (const std::exception& e) {
        p.error = std::string(e.what()) + " (cgroup v2: a group with processes of its own can give no controller to "
                                          "its children; run lookout from a cgroup whose parent can, e.g. under "
                                          "`systemd-run --scope -p Delegate=yes`)";
        return p;
      }
    }
    p.error = not_writable(p.base);
    return p;
  }
  p.error = "no cgroup cpu controller: neither a cgroup v1 hierarchy with 'cpu' nor cgroup v2 with 'cpu' in "
            "cgroup.controllers is mounted (look at /proc/self/mountinfo and /sys/fs/cgroup); mount one, or run "
            "where the kernel has CONFIG_CFS_BANDWIDTH and cgroups";
  return p;
}

// Groups left by processes that died with their quota on (a crash, kill -9).
void remove_stale_groups(const fs::path& base) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kGroupPrefix) || !e.is_directory(ec)) continue;
    const std::string digits = name.substr(std::strlen(kGroupPrefix));
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), is_digit)) continue;
    const long pid = std::stol(digits);
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    ::rmdir(e.path().c_str());  // still busy (a child of the dead process lives on): left alone
  }
}

}  // namespace

std::string CpuQuota::unavailable_reason() { return find_placement().error; }

std::string CpuQuota::invalid_cores(double cores) {
  const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  char buf[160];
  if (!std::isfinite(cores) || cores < kMinCores || cores > static_cast<double>(cpus)) {
    std::snprintf(buf, sizeof buf,
                  "%g CPUs: a cap must be at least %g and at most %ld (this machine's CPUs), e.g. 0.25", cores,
                  kMinCores, cpus);
    return buf;
  }
  return "";
}

CpuQuota::CpuQuota(double cores) {
  if (const std::string bad = invalid_cores(cores); !bad.empty()) throw std::runtime_error(bad);
  const Placement p = find_placement();
  if (!p.error.empty()) throw std::runtime_error(p.error);
  v2_ = p.v2;
  parent_ = p.current.string();
  remove_stale_groups(p.base);
  const fs::path group = p.base / (kGroupPrefix + std::to_string(::getpid()));
  if (::mkdir(group.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot make the cgroup " + group.string() + ": " + std::strerror(errno));
  group_ = group.string();
  try {
    set(cores);
    // Writing the pid to cgroup.procs moves every thread; threads made later start where their creator is.
    write_text(group / "cgroup.procs", std::to_string(::getpid()));
  } catch (...) {
    ::rmdir(group_.c_str());
    throw;
  }
}

CpuQuota::~CpuQuota() {
  try {
    write_text(fs::path(parent_) / "cgroup.procs", std::to_string(::getpid()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout: the CPU cap stays on: %s\n", e.what());
    return;
  }
  // The group empties as the kernel finishes moving the threads.
  for (int i = 0; i < 50 && ::rmdir(group_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void CpuQuota::set(double cores) {
  if (const std::string bad = invalid_cores(cores); !bad.empty()) throw std::runtime_error(bad);
  const long shortest_us = static_cast<long>(std::ceil(static_cast<double>(kMinQuotaUs) / cores));
  const long period_us = std::clamp(shortest_us, kMinPeriodUs, kMaxPeriodUs);
  const long quota_us = std::max(kMinQuotaUs, std::lround(cores * static_cast<double>(period_us)));
  const fs::path group(group_);
  if (v2_) {
    write_text(group / "cpu.max", std::to_string(quota_us) + " " + std::to_string(period_us));
  } else {
    // A new period is checked against the quota in force: lift the quota first.
    if (period_us != period_us_) {
      write_text(group / "cpu.cfs_quota_us", "-1");
      write_text(group / "cpu.cfs_period_us", std::to_string(period_us));
    }
    write_text(group / "cpu.cfs_quota_us", std::to_string(quota_us));
  }
  period_us_ = period_us;
  cores_ = cores;
}

}  // namespace lookout::client
