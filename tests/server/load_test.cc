// The server under more than it can take: a full queue answers 503 with
// Retry-After, a burst far above capacity gets only 200s and 503s with
// bounded memory and no crash, and SIGTERM with requests in flight finishes
// them all, refuses new connections, and exits 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/prometheus_text.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using nlohmann::json;

// A one-shot start line: every thread waits until all are ready, then goes.
class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void arrive_and_wait() {
    std::unique_lock lock(mu_);
    if (--waiting_ == 0) {
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return waiting_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
};

struct Outcome {
  int status = 0;  // 0 = no response (transport error)
  std::string retry_after;
  std::string body;
};

// `threads` threads, each sending `per_thread` raw-JPEG requests back to back.
std::vector<Outcome> burst(const ServerProcess& server, const std::string& image, int threads, int per_thread) {
  std::vector<Outcome> out(static_cast<size_t>(threads * per_thread));
  StartLine start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto c = server.client();
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        Outcome& o = out[static_cast<size_t>(t * per_thread + i)];
        auto res = c->Post("/api/detect?id=burst.jpg", image, "image/jpeg");
        if (!res) continue;
        o.status = res->status;
        o.retry_after = res->get_header_value("Retry-After");
        o.body = res->body;
      }
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

void expect_healthy(ServerProcess& server) {
  ASSERT_TRUE(server.running()) << server.log();
  auto c = server.client();
  auto res = c->Get("/v2/health/ready");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
}

void expect_503_shape(const Outcome& o) {
  EXPECT_FALSE(o.retry_after.empty()) << "a 503 without Retry-After";
  if (!o.retry_after.empty()) {
    EXPECT_GE(std::stoi(o.retry_after), 1);
  }
  const json j = json::parse(o.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.body;
  EXPECT_TRUE(j.contains("error")) << o.body;
  EXPECT_EQ(j.value("code", 0), 503) << o.body;
}

TEST(Overload, FullQueueAnswers503WithRetryAfter) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--max-queue", "1"}, {}, false, {}});
  const std::string kite = read_file(kKite);  // the slowest photo to decode
  const auto outcomes = burst(server, kite, 12, 2);
  std::map<int, int> by_status;
  for (const auto& o : outcomes) {
    ++by_status[o.status];
    EXPECT_TRUE(o.status == 200 || o.status == 503) << "status " << o.status << ": " << o.body.substr(0, 200);
    if (o.status == 503) expect_503_shape(o);
  }
  RecordProperty("ok", by_status[200]);
  RecordProperty("refused", by_status[503]);
  EXPECT_GE(by_status[200], 1) << "nothing got through";
  EXPECT_GE(by_status[503], 1) << "24 concurrent requests with one worker and a queue of one: some must be refused";
  expect_healthy(server);
}

TEST(Overload, BurstFarAboveCapacityStaysBounded) {
  ServerProcess server(ServerOptions{{"--max-queue", "4"}, {}, false, {}});
  const std::string dog = read_file(kDog);
  const uint64_t rss_before = server.rss_kib();

  std::atomic<bool> done{false};
  std::atomic<uint64_t> rss_max{0};
  std::thread sampler([&] {
    while (!done) {
      const uint64_t r = server.rss_kib();
      if (r > rss_max) rss_max = r;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto outcomes = burst(server, dog, 16, 13);  // 208 requests
  done = true;
  sampler.join();

  int ok = 0, refused = 0;
  for (const auto& o : outcomes) {
    EXPECT_TRUE(o.status == 200 || o.status == 503) << "status " << o.status << ": " << o.body.substr(0, 200);
    if (o.status == 200) ++ok;
    if (o.status == 503) {
      ++refused;
      expect_503_shape(o);
    }
  }
  RecordProperty("ok", ok);
  RecordProperty("refused", refused);
  RecordProperty("rss_max_mib", static_cast<int>(rss_max / 1024));
  EXPECT_GE(ok, 4);
  EXPECT_EQ(ok + refused, static_cast<int>(outcomes.size()));
  // Generous: the model, the workers, 16 bodies in flight; sanitizers inflate it.
  const uint64_t bound_kib = (std::getenv("LOOKOUT_SANITIZED") ? 4096u : 1024u) * 1024u;
  EXPECT_LT(rss_max.load(), bound_kib) << "VmRSS peaked at " << rss_max / 1024 << " MiB (" << rss_before / 1024
                                       << " MiB before the burst)";
  expect_healthy(server);

  // The metrics saw it: refusals were counted as 503s on the route.
  auto res = server.client()->Get("/metrics");
  ASSERT_TRUE(res);
  const auto ex = prom::parse(res->body);
  if (refused > 0) {
    EXPECT_EQ(ex.value("lookout_requests_total", {{"route", "/api/detect"}, {"code", "503"}}).value_or(0), refused);
  }
  EXPECT_EQ(ex.value("lookout_queue_depth", {}).value_or(-1), 0);
}

TEST(Shutdown, SigtermFinishesInFlightRequestsAndExitsZero) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--max-queue", "64", "--drain-seconds", "60"}, {}, false, {}});
  // Each request: a batch of 6 photos (a few hundred ms with one worker).
  json batch;
  batch["images"] = json::array();
  const std::string kite = base64(read_file(kKite)), dog = base64(read_file(kDog));
  for (int i = 0; i < 6; ++i) batch["images"].push_back({{"id", "p" + std::to_string(i)}, {"data", i % 2 ? kite : dog}});
  const std::string body = batch.dump();

  constexpr int kRequests = 4;
  std::vector<Outcome> outcomes(kRequests);
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      auto c = server.client();
      auto res = c->Post("/api/detect", body, "application/json");
      if (!res) return;
      outcomes[static_cast<size_t>(i)].status = res->status;
      outcomes[static_cast<size_t>(i)].body = res->body;
    });
  }

  // Wait (bounded) until all are in the server's hands: the in-flight gauge.
  auto probe = server.client();
  bool all_in = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20 * slow_factor());
  while (!all_in && std::chrono::steady_clock::now() < deadline) {
    if (auto res = probe->Get("/metrics"); res && res->status == 200) {
      const auto ex = prom::parse(res->body);
      // The /metrics request itself may be counted as in flight.
      all_in = ex.value("lookout_inflight_requests", {}).value_or(0) >= kRequests;
    }
    if (!all_in) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(all_in) << "the requests never showed up as in flight";

  server.signal(SIGTERM);

  // New connections are refused while the in-flight ones drain (bounded).
  bool refused = false;
  const auto refuse_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!refused && std::chrono::steady_clock::now() < refuse_deadline) {
    refused = connect_refused(server.port());
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(refused) << "the port still accepted connections after SIGTERM";

  for (auto& t : clients) t.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(outcomes[static_cast<size_t>(i)].status, 200) << "request " << i << ": " << outcomes[static_cast<size_t>(i)].body.substr(0, 200);
    if (outcomes[static_cast<size_t>(i)].status == 200) {
      const json j = json::parse(outcomes[static_cast<size_t>(i)].body);
      EXPECT_EQ(j["summary"]["ok"], 6);
    }
  }
  const auto st = server.wait_exit(std::chrono::seconds(30 * slow_factor()));
  ASSERT_TRUE(st.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st)) << "killed by a signal: wait status " << *st;
  if (WIFEXITED(*st)) {
    EXPECT_EQ(WEXITSTATUS(*st), 0) << server.log();
  }
  EXPECT_TRUE(connect_refused(server.port()));
}

TEST(Shutdown, SigintOnAnIdleServerExitsZeroPromptly) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  server.signal(SIGINT);
  const auto st = server.wait_exit(std::chrono::seconds(10 * slow_factor()));
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 0) << server.log();
}

}  // namespace
}  // namespace lookout::server_test
