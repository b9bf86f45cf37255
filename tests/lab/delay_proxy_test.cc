// lookout-delay-proxy on loopback in front of a real `lookout serve` (no
// root needed): every exchange costs at least twice the one-way delay, the
// bytes arrive intact and in order (a photo detected through the proxy gives
// the same answer as directly), and SIGHUP loads a new delay from the file.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "server/server_process.h"

namespace lookout::server_test {
namespace {

#ifndef LOOKOUT_DELAY_PROXY
#error "LOOKOUT_DELAY_PROXY (the lookout-delay-proxy binary) must be defined by the build"
#endif

using Clock = std::chrono::steady_clock;

// lookout-delay-proxy on 127.0.0.1:port() forwarding to `upstream_port`.
class DelayProxy {
 public:
  DelayProxy(int upstream_port, double delay_ms, const fs::path& delay_file) : port_(free_port()) {
    const std::string cmd = std::string(LOOKOUT_DELAY_PROXY) + " --listen 127.0.0.1:" + std::to_string(port_) +
                            " --to 127.0.0.1:" + std::to_string(upstream_port) + " --delay-ms " + std::to_string(delay_ms) +
                            " --delay-file " + shell_quote(delay_file.string());
    const std::string shell = "exec " + cmd + " 2>/dev/null";  // built before fork: the child only execs
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", shell.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && connect_refused(port_); i++) std::this_thread::sleep_for(20ms);
  }
  ~DelayProxy() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "lookout-delay-proxy did not exit 0 on SIGTERM: " << st;
  }
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;
  int port() const { return port_; }
  void reload() const { ::kill(pid_, SIGHUP); }

 private:
  int port_;
  pid_t pid_ = -1;
};

std::unique_ptr<httplib::Client> client_to(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_connection_timeout(10 * slow_factor());
  c->set_read_timeout(60 * slow_factor());
  c->set_keep_alive(true);
  return c;
}

// Fastest of 5 GET /healthz on one connection, in ms.
double fastest_exchange_ms(httplib::Client& c) {
  EXPECT_TRUE(c.Get("/healthz"));
  double best = 1e9;
  for (int i = 0; i < 5; i++) {
    const auto t = Clock::now();
    const auto res = c.Get("/healthz");
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    EXPECT_TRUE(res && res->status == 200);
  }
  return best;
}

TEST(DelayProxy, AddsTheRoundTripKeepsTheBytesAndReloadsOnSighup) {
  ServerProcess server;
  TempDir dir;
  const fs::path delay_file = dir.path() / "delay_ms";
  write_file(delay_file, "40\n");
  DelayProxy proxy(server.port(), 25, delay_file);
  auto direct = client_to(server.port());
  auto delayed = client_to(proxy.port());

  EXPECT_GE(fastest_exchange_ms(*delayed), 50.0) << "one exchange = request + response, each held 25 ms";
  EXPECT_LT(fastest_exchange_ms(*direct), 25.0) << "the server alone is fast";

  // A 1.4 MB photo in 64 KB chunks through the proxy: same answer as directly.
  const std::string photo = read_file(kKite);
  const auto via_proxy = delayed->Post("/api/detect", photo, "image/jpeg");
  const auto straight = direct->Post("/api/detect", photo, "image/jpeg");
  ASSERT_TRUE(via_proxy && straight);
  ASSERT_EQ(via_proxy->status, 200) << via_proxy->body;
  const auto detections = [](const std::string& body) { return nlohmann::json::parse(body)["results"][0]["detections"]; };
  EXPECT_EQ(detections(via_proxy->body), detections(straight->body));
  EXPECT_FALSE(detections(straight->body).empty());

  // SIGHUP: 40 ms one way from the file, on the connection already open.
  proxy.reload();
  std::this_thread::sleep_for(200ms);
  EXPECT_GE(fastest_exchange_ms(*delayed), 80.0);
}

}  // namespace
}  // namespace lookout::server_test
