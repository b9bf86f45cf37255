// The real `lookout serve` (LOOKOUT_BINARY) run as a user runs it: from the
// repository root, on a free 127.0.0.1 port, with its stderr captured to a
// file. ServerProcess starts it, waits until GET /v2/health/ready answers
// 200 (bounded), and in its destructor sends SIGTERM, then SIGKILL if it has
// not exited within the grace period. Plus the small things every server
// test needs: free ports, temp dirs, file bytes, base64, curl via popen.
#pragma once

#include "temp_dir.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "build_paths.h"

extern char** environ;

namespace lookout::server_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const fs::path kRoot = LOOKOUT_SOURCE_DIR;
inline const fs::path kPhotos = kRoot / "data" / "small";
inline const fs::path kDog = kPhotos / "darknet__dog.jpg";          // dog, bicycle (and a truck)
inline const fs::path kGiraffe = kPhotos / "darknet__giraffe.jpg";  // giraffe(s)
inline const fs::path kKite = kPhotos / "darknet__kite.jpg";        // the largest photo (1.4 MB)
// The name the server gives the default model (its file stem): /metrics
// labels, ?model=, /v1/vision/custom/{name}.
inline constexpr const char* kModelName = "mobilenet_ssd_v2_coco_quant_postprocess";

// Sanitized builds are several times slower: scale every timeout.
inline int slow_factor() { return std::getenv("LOOKOUT_SANITIZED") != nullptr ? 4 : 1; }

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) throw std::runtime_error("cannot write " + p.string());
}

inline std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

using lookout::testing::shell_quote;
using lookout::testing::TempDir;

// A port nobody listens on right now: bind 127.0.0.1:0, read it, close.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/getsockname on 127.0.0.1:0 failed");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// True when a TCP connect to 127.0.0.1:port is refused (nobody listening).
inline bool connect_refused(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  return rc != 0 && err == ECONNREFUSED;
}

// Runs a shell command (curl, openssl), returns its stdout and exit status.
struct CommandResult {
  int status = -1;  // exit code, or -1 if it did not exit normally
  std::string out;
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// curl's response: the status line code (from -w) and the body.
struct CurlResponse {
  int status = 0;
  std::string body;
};

// `curl -sS --max-time T <args> -o BODY -w '%{http_code}'`; args are passed
// to the shell as given (quote them with shell_quote).
inline CurlResponse curl(const std::string& args, const fs::path& body_file) {
  const std::string cmd = "curl -sS --max-time " + std::to_string(60 * slow_factor()) + " -o " +
                          shell_quote(body_file.string()) + " -w '%{http_code}' " + args + " 2>&1";
  const CommandResult r = run_command(cmd);
  CurlResponse c;
  try {
    c.status = std::stoi(r.out.substr(r.out.size() >= 3 ? r.out.size() - 3 : 0));
  } catch (...) {
    c.status = -1;
  }
  std::error_code ec;
  if (fs::exists(body_file, ec)) c.body = read_file(body_file);
  return c;
}

// `lookout ARGS` started in the background from the repository root, its
// stdout and stderr to `log`, with `env` as its whole environment when given.
// Returns the child's pid; the child exits 126 when chdir or open failed, 127
// when exec did.
inline pid_t spawn_lookout(const std::vector<std::string>& args, const fs::path& log,
                           const std::vector<std::string>* env = nullptr) {
  std::vector<std::string> argv_s = {LOOKOUT_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env != nullptr ? *env : std::vector<std::string>{};
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const std::string root = kRoot.string(), log_s = log.string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    if (::chdir(root.c_str()) != 0) ::_exit(126);
    const int fd = ::open(log_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
    if (env != nullptr) {
      ::execve(argv[0], argv.data(), envp.data());
    } else {
      ::execv(argv[0], argv.data());
    }
    ::_exit(127);
  }
  return pid;
}

struct ServerOptions {
  std::vector<std::string> args;          // extra `lookout serve` flags
  std::vector<std::string> env;           // extra "NAME=value" entries
  bool tls = false;                       // health checks over https (no verification)
  std::chrono::seconds ready_timeout{0};  // 0 = 90 s (times slow_factor())
  int port = 0;                           // 0 = a free port (restarts reuse the previous one)
};

// One `lookout serve` process on 127.0.0.1:port().
class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options = {})
      : options_(std::move(options)), port_(options_.port > 0 ? options_.port : free_port()) {
    log_path_ = dir_.path() / "stderr.log";
    start();
    wait_ready();
  }
  // Stops the server (if the test has not) and fails the test if it did
  // not exit 0 on SIGTERM or if its stderr holds a sanitizer report.
  ~ServerProcess() {
    if (pid_ > 0) {
      const int st = terminate(std::chrono::seconds(15 * slow_factor()));
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        ADD_FAILURE() << "lookout serve did not exit 0 on SIGTERM (wait status " << st << "); its stderr:\n" << log();
      }
    }
    const std::string l = log();
    for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
      if (l.find(report) != std::string::npos) ADD_FAILURE() << "sanitizer report in lookout serve's stderr:\n" << l;
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string host() const { return "127.0.0.1"; }
  std::string url() const { return (options_.tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_); }
  std::string log() const {
    std::error_code ec;
    return fs::exists(log_path_, ec) ? read_file(log_path_) : "(no stderr log at " + log_path_.string() + ")";
  }

  // A plain client with generous, bounded timeouts.
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>(url());
    c->enable_server_certificate_verification(false);
    c->set_connection_timeout(10 * slow_factor());
    c->set_read_timeout(60 * slow_factor());
    c->set_write_timeout(60 * slow_factor());
    return c;
  }

  // Still running (not exited, not killed)?
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      exit_status_ = st;
      return false;
    }
    return true;
  }

  // Sends a signal without waiting.
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits up to `timeout` for the process to exit; returns its raw wait
  // status, or nullopt if it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (!running()) return exit_status_;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
  }

  // SIGTERM, then SIGKILL after `grace`; returns the raw wait status.
  int terminate(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    if (auto st = wait_exit(grace)) return *st;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    exit_status_ = st;
    return st;
  }

  // VmRSS of the process in KiB (0 if unreadable).
  uint64_t rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
    }
    return 0;
  }

 private:
  void start() {
    std::vector<std::string> args = {"serve", "--host", "127.0.0.1", "--port", std::to_string(port_)};
    args.insert(args.end(), options_.args.begin(), options_.args.end());
    // The environment minus LOOKOUT_* (every serve flag reads LOOKOUT_<FLAG>:
    // the configuration is what each test asks for), plus extras.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("LOOKOUT_", 0) != 0) env.emplace_back(*e);
    }
    env.insert(env.end(), options_.env.begin(), options_.env.end());
    pid_ = spawn_lookout(args, log_path_, &env);
  }

  void wait_ready() {
    const auto timeout = options_.ready_timeout.count() > 0 ? options_.ready_timeout : std::chrono::seconds(90);
    const auto deadline = std::chrono::steady_clock::now() + timeout * slow_factor();
    while (std::chrono::steady_clock::now() < deadline) {
      if (!running()) {
        throw std::runtime_error("lookout serve exited before it was ready (wait status " +
                                 std::to_string(exit_status_) + ", 126 = chdir/open failed, 127 = exec failed); " +
                                 "its stderr:\n" + log());
      }
      auto c = client();
      c->set_connection_timeout(1);
      c->set_read_timeout(5);
      if (auto res = c->Get("/v2/health/ready"); res && res->status == 200) return;
      std::this_thread::sleep_for(50ms);
    }
    const std::string l = log();
    terminate(5s);
    throw std::runtime_error("lookout serve was not ready within the timeout; its stderr:\n" + l);
  }

  ServerOptions options_;
  TempDir dir_;
  fs::path log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// A test suite sharing one server: a suite's SetUpTestSuite calls start(),
// the server stops after the suite's last test; each test first checks that
// it still runs.
class SharedServerTest : public ::testing::Test {
 protected:
  static void start(ServerOptions options) { server_ = new ServerProcess(std::move(options)); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_ != nullptr && server_->running()) << (server_ ? server_->log() : ""); }

  static inline ServerProcess* server_ = nullptr;
};

}  // namespace lookout::server_test
