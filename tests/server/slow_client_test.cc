// Slow and idle clients against the real server: connections that send
// their headers or body a byte at a time, or sit idle on keep-alive, must
// not starve health checks or real requests (each connection gets a thread
// of its own, up to --max-connections), and the read, write and keep-alive
// timeouts cut off clients that stop sending.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/raw_connection.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using nlohmann::json;

// The server process's thread count (0 if unreadable).
int thread_count(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  return 0;
}

// Slow clients of three kinds, kept going by one thread: a byte of headers
// (slowloris) or of body each `interval` on their connections, and idle
// keep-alive connections after one request. Each `interval` is well under
// the server's --read-timeout, so the server must keep them all.
class SlowClients {
 public:
  SlowClients(int port, int header_trickles, int body_trickles, int idle_keep_alive,
              std::chrono::milliseconds interval) {
    for (int i = 0; i < header_trickles; ++i)
      add(port, "POST /api/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nX-Slow: ", "y");
    for (int i = 0; i < body_trickles; ++i)
      add(port,
          "POST /api/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
          "Content-Length: 1000000\r\n\r\n\xff\xd8",
          "\x00");
    for (int i = 0; i < idle_keep_alive; ++i) {
      auto c = std::make_unique<RawConnection>(port);
      c->send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      idle_.push_back(std::move(c));
    }
    trickler_ = std::thread([this, interval] {
      while (!stop_) {
        for (Trickle& t : trickles_) {
          if (t.sent < t.prefix.size()) {
            t.open = t.conn->send(t.prefix.substr(t.sent, 1)) && t.open;
            ++t.sent;
          } else {
            t.open = t.conn->send(t.filler) && t.open;
          }
        }
        std::this_thread::sleep_for(interval);
      }
    });
  }
  ~SlowClients() { stop(); }

  void stop() {
    stop_ = true;
    if (trickler_.joinable()) trickler_.join();
  }

  // Connections the server has closed (a failed send, or EOF on an idle one).
  int closed_by_server() {
    int closed = 0;
    for (const Trickle& t : trickles_) closed += t.open ? 0 : 1;
    for (auto& c : idle_) {
      std::string got;
      if (!c->read_some(got, std::chrono::milliseconds(1))) ++closed;
    }
    return closed;
  }
  size_t size() const { return trickles_.size() + idle_.size(); }

 private:
  struct Trickle {
    std::unique_ptr<RawConnection> conn;
    std::string prefix, filler;
    size_t sent = 0;
    bool open = true;
  };
  void add(int port, const std::string& prefix, const std::string& filler) {
    trickles_.push_back({std::make_unique<RawConnection>(port), prefix, filler});
  }

  std::vector<Trickle> trickles_;
  std::vector<std::unique_ptr<RawConnection>> idle_;
  std::atomic<bool> stop_{false};
  std::thread trickler_;
};

TEST(SlowClients, DoNotStarveHealthChecksOrDetection) {
  // One detector and 24 slow clients, four times what a fixed pool sized
  // by the cores would hold: with a thread per connection, none starves the
  // others.
  ServerProcess server(ServerOptions{{"--workers", "1", "--read-timeout", "10", "--keep-alive-timeout", "60"}, {}, false, {}});
  SlowClients slow(server.port(), 24, 12, 12, std::chrono::milliseconds(500));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // every slow client is mid-request

  auto c = server.client();
  auto health = c->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto ready = c->Get("/v2/health/ready");
  ASSERT_TRUE(ready) << httplib::to_string(ready.error());
  EXPECT_EQ(ready->status, 200);
  auto res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(json::parse(res->body)["results"][0]["detections"].empty());

  // All of that was answered while every slow client still held its connection.
  EXPECT_EQ(slow.closed_by_server(), 0) << "of " << slow.size() << " slow clients";
  slow.stop();
}

TEST(SlowClients, AreCutOffByTheTimeouts) {
  ServerProcess server(
      ServerOptions{{"--workers", "1", "--read-timeout", "2", "--keep-alive-timeout", "2"}, {}, false, {}});
  const auto start = std::chrono::steady_clock::now();
  RawConnection silent(server.port());  // connects, says nothing
  RawConnection half_headers(server.port());
  ASSERT_TRUE(half_headers.send("POST /api/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"));
  RawConnection half_body(server.port());
  ASSERT_TRUE(half_body.send("POST /api/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                             "Content-Length: 5000\r\n\r\n\xff\xd8\xff"));
  RawConnection idle(server.port());  // one request, then idle on keep-alive
  ASSERT_TRUE(idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));

  const auto bound = std::chrono::seconds(30 * slow_factor());
  std::string idle_got;
  EXPECT_TRUE(silent.wait_closed(bound)) << "a silent connection was kept";
  EXPECT_TRUE(half_headers.wait_closed(bound)) << "a connection stalled mid-headers was kept";
  EXPECT_TRUE(half_body.wait_closed(bound)) << "a connection stalled mid-body was kept";
  EXPECT_TRUE(idle.wait_closed(bound, &idle_got)) << "an idle keep-alive connection was kept";
  EXPECT_NE(idle_got.find("200 OK"), std::string::npos) << idle_got;
  // Not before the timeouts (2 s) could have run out.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));

  // And the server still serves.
  auto health = server.client()->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(SlowClients, ConnectionThreadsStayWithinMaxConnections) {
  constexpr int kMax = 8;
  ServerProcess server(ServerOptions{
      {"--workers", "1", "--max-connections", std::to_string(kMax), "--read-timeout", "10"}, {}, false, {}});
  const int threads_before = thread_count(server.pid());
  ASSERT_GT(threads_before, 0);
  {
    SlowClients slow(server.port(), 30, 0, 0, std::chrono::milliseconds(500));
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const int threads_during = thread_count(server.pid());
    RecordProperty("threads_before", threads_before);
    RecordProperty("threads_during", threads_during);
    // Connection threads are kept once started (the ready probes' are in
    // threads_before), so at most kMax more.
    EXPECT_LE(threads_during, threads_before + kMax) << "30 slow clients, --max-connections " << kMax;
    EXPECT_GT(threads_during, threads_before) << "no connection thread was started";
  }
  // Once the slow clients are gone, the queued connections were served and
  // new ones are.
  auto health = server.client()->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace lookout::server_test
