// RemoteLab: scripts/remote-lab.sh for C++ tests. The constructor brings up
// a lab with a name unique to this process (`lookout serve` in its own
// network namespace, rate-shaped, delayed, CPU-limited) and waits until it
// answers; url() is where to send requests; set() changes rate and RTT,
// set_cpu_quota() the server's CPU cap; the destructor takes it down. Needs root: check unavailable_reason()
// first and GTEST_SKIP with it.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.h"

#ifndef LOOKOUT_BINARY
#error "LOOKOUT_BINARY (the lookout binary; lookout-delay-proxy must be beside it) must be defined by the build"
#endif
#ifndef LOOKOUT_SOURCE_DIR
#define LOOKOUT_SOURCE_DIR "."
#endif

namespace lookout::lab_test {

struct RemoteLabOptions {
  std::string rate = "20mbit";          // tc rate, each direction
  std::string rtt = "40ms";             // round trip
  int cpus = 1;                         // the server runs on the last N CPUs
  std::string cpu_quota;                // and gets at most this many CPUs' worth of time ("" = no cap)
  int port = 5029;
  std::vector<std::string> serve_args;  // extra `lookout serve` flags
};

class RemoteLab {
 public:
  // Empty when labs can run here, else why not (for GTEST_SKIP).
  static std::string unavailable_reason() {
    if (::geteuid() != 0) return "the remote lab needs root (network namespaces, tc); CI runs as root";
    if (std::system("command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1") != 0)
      return "ip/tc (iproute2) not installed: run scripts/setup";
    return "";
  }

  // The common case: a link of `rate` each way and `rtt`, the other options at their defaults.
  RemoteLab(const std::string& rate, const std::string& rtt) : RemoteLab(with_link(rate, rtt)) {}

  explicit RemoteLab(RemoteLabOptions options = {}) : options_(std::move(options)) {
    static std::atomic<int> counter{0};
    name_ = "test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::string cmd = script() + " up --name " + name_ + " --rate " + quote(options_.rate) + " --rtt " +
                      quote(options_.rtt) + " --cpus " + std::to_string(options_.cpus) + " --port " +
                      std::to_string(options_.port) + " --bin-dir " + quote(bin_dir());
    if (!options_.cpu_quota.empty()) cmd += " --cpu-quota " + quote(options_.cpu_quota);
    if (!options_.serve_args.empty()) {
      cmd += " --";
      for (const std::string& a : options_.serve_args) cmd += " " + quote(a);
    }
    const auto [status, out] = run(cmd);
    const size_t at = out.rfind("http://");
    if (status != 0 || at == std::string::npos)
      throw std::runtime_error("remote-lab.sh up failed (exit " + std::to_string(status) + "):\n" + out);
    url_ = out.substr(at, out.find('\n', at) - at);
    state_ = read_state();
  }

  // Takes the lab down; a sanitizer report in the server's or the proxy's
  // log (sanitized builds) fails the test.
  ~RemoteLab() {
    run(script() + " down --name " + name_);
    for (const char* log : {"serve.log", "proxy.log"}) {
      std::ifstream in(run_dir() / log);
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"})
        if (text.find(report) != std::string::npos) ADD_FAILURE() << "sanitizer report in the lab's " << log << ":\n" << text;
    }
  }
  RemoteLab(const RemoteLab&) = delete;
  RemoteLab& operator=(const RemoteLab&) = delete;

  const std::string& url() const { return url_; }           // http://10.77.N.2:PORT
  const std::string& name() const { return name_; }
  std::string server_address() const { return state_.at("NS_IP"); }  // 10.77.N.2
  std::string host_address() const { return state_.at("HOST_IP"); }  // 10.77.N.1, this side of the link
  pid_t server_pid() const { return static_cast<pid_t>(std::stol(state_.at("SERVE_PID"))); }
  std::string netns() const { return "lookout-lab-" + name_; }
  std::filesystem::path run_dir() const { return "/tmp/lookout-lab-" + name_; }  // logs

  // New rate and RTT for the running lab (open connections stay).
  void set(const std::string& rate, const std::string& rtt) {
    const auto [status, out] = run(script() + " set --name " + name_ + " --rate " + quote(rate) + " --rtt " + quote(rtt));
    if (status != 0) throw std::runtime_error("remote-lab.sh set failed (exit " + std::to_string(status) + "):\n" + out);
  }

  // The server's CPU quota: CORES (e.g. "0.5"), or "max" to lift it.
  void set_cpu_quota(const std::string& cores) {
    const auto [status, out] = run(script() + " set --name " + name_ + " --cpu-quota " + quote(cores));
    if (status != 0) throw std::runtime_error("remote-lab.sh set --cpu-quota failed (exit " + std::to_string(status) + "):\n" + out);
  }

  // `remote-lab.sh status`: settings, processes, qdiscs with counters.
  std::string status() const { return run(script() + " status --name " + name_).second; }

 private:
  static RemoteLabOptions with_link(const std::string& rate, const std::string& rtt) {
    RemoteLabOptions o;
    o.rate = rate;
    o.rtt = rtt;
    return o;
  }
  static std::string quote(const std::string& s) { return lookout::testing::shell_quote(s); }
  static std::string script() { return quote((std::filesystem::path(LOOKOUT_SOURCE_DIR) / "scripts" / "remote-lab.sh").string()); }
  static std::string bin_dir() { return std::filesystem::path(LOOKOUT_BINARY).parent_path().string(); }

  // Exit status and stdout+stderr of a shell command.
  static std::pair<int, std::string> run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return {-1, "popen failed"};
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
  }

  // The script's KEY=value state file.
  std::map<std::string, std::string> read_state() const {
    std::map<std::string, std::string> state;
    std::ifstream in(run_dir() / "state");
    for (std::string line; std::getline(in, line);)
      if (const size_t eq = line.find('='); eq != std::string::npos) state[line.substr(0, eq)] = line.substr(eq + 1);
    if (!state.contains("NS_IP") || !state.contains("HOST_IP"))
      throw std::runtime_error("remote-lab.sh up left no usable state in " + (run_dir() / "state").string());
    return state;
  }

  RemoteLabOptions options_;
  std::string name_, url_;
  std::map<std::string, std::string> state_;
};

}  // namespace lookout::lab_test
