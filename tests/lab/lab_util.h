// Helpers for the lab suites: `lookout run` / `lookout offload` run as a user
// runs them (in the foreground, or in the background to be killed), and the
// records of a results file.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "client/record.h"
#include "server/server_process.h"

namespace lookout::lab_test {

using namespace lookout::server_test;
using lookout::testing::shell_quote;
using lookout::testing::TempDir;

// `lookout serve` options: extra flags, and a port to reuse (0 = a free one).
inline ServerOptions serve_args(std::vector<std::string> args, int port = 0) {
  ServerOptions o;
  o.args = std::move(args);
  o.port = port;
  return o;
}

// `lookout ARGS` from the repository root; stdout+stderr and exit status.
inline CommandResult lookout(const std::string& args) {
  return run_command("cd " + shell_quote(kRoot.string()) + " && " + shell_quote(LOOKOUT_BINARY) + " " + args + " 2>&1");
}

// The records of a results file (no warnings allowed).
inline std::vector<wire::Record> records(const fs::path& file) {
  std::vector<std::string> warnings;
  std::vector<wire::Record> r = client::read_records(file, &warnings);
  for (const std::string& w : warnings) ADD_FAILURE() << "unreadable line: " << w;
  return r;
}

// How often each image appears.
inline std::map<std::string, int> image_counts(const std::vector<wire::Record>& rs) {
  std::map<std::string, int> n;
  for (const wire::Record& r : rs) ++n[r.image];
  return n;
}

// A whole collection's records after a run that had to finish: every image
// exactly once, and every one answered.
inline void expect_every_image_once_and_ok(const std::vector<wire::Record>& rs, size_t images) {
  EXPECT_EQ(rs.size(), images);
  for (const auto& [image, n] : image_counts(rs)) EXPECT_EQ(n, 1) << image << " recorded " << n << " times";
  for (const wire::Record& r : rs) EXPECT_TRUE(r.ok) << r.image << ": " << r.error;
}

inline size_t count_lines(const fs::path& file) {
  std::ifstream in(file);
  return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

// `lookout ARGS` in the background (output to `log`), to be waited for or killed.
class Background {
 public:
  Background(const std::vector<std::string>& args, const fs::path& log) : pid_(server_test::spawn_lookout(args, log)) {}
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Exit code (or -1 when it did not exit normally) once it has exited.
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
};

// Waits (bounded) until `file` holds at least `lines` lines.
inline bool wait_for_lines(const fs::path& file, size_t lines, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout * slow_factor();
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(file, ec) && count_lines(file) >= lines) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

inline size_t small_collection_size() {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(kPhotos))
    if (e.path().extension() == ".jpg" || e.path().extension() == ".png") ++n;
  return n;
}

// `copies` copies of data/small under `dir` (symlinks, one subdirectory per
// copy): a collection long enough that a run's mean outlasts this
// machine's speed swings. Returns its image count.
inline size_t make_small_copies(const fs::path& dir, int copies) {
  size_t n = 0;
  for (int copy = 0; copy < copies; ++copy) {
    fs::create_directories(dir / std::to_string(copy));
    for (const auto& e : fs::directory_iterator(kPhotos))
      if (e.is_regular_file() && (e.path().extension() == ".jpg" || e.path().extension() == ".png")) {
        fs::create_symlink(fs::absolute(e.path()), dir / std::to_string(copy) / e.path().filename());
        ++n;
      }
  }
  return n;
}

}  // namespace lookout::lab_test
