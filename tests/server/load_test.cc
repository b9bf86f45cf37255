// The server under more than it can take: a full queue answers 503 with
// Retry-After, a burst far above capacity gets only 200s and 503s with
// bounded memory and no crash, and SIGTERM with requests in flight finishes
// them all, refuses new connections, and exits 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
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
  EXPECT_EQ(ex.value("lookout_queue_depth", {{"model", kModelName}}).value_or(-1), 0);
}

// Open-loop load: request k is sent at start + k / rate (whatever happened
// to the earlier ones) by whichever of `senders` keep-alive clients is free.
struct Timed {
  int status = 0;       // 0 = no response
  double ms = 0;        // round trip
  double served_ms = 0; // the server's own time for the image, without its queue wait (200s)
  double admitted_ms = 0;  // the server's time from admission to the result: queue wait + served (200s)
  std::string retry_after, body;
};

std::vector<Timed> open_loop(const ServerProcess& server, const std::string& image, double rate, double seconds,
                             int senders) {
  const size_t total = static_cast<size_t>(rate * seconds);
  std::vector<Timed> out(total);
  std::atomic<size_t> next{0};
  const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&] {
      auto c = server.client();
      c->set_keep_alive(true);
      c->set_tcp_nodelay(true);
      for (size_t k = next++; k < total; k = next++) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>(static_cast<double>(k) / rate)));
        const auto t0 = std::chrono::steady_clock::now();
        auto res = c->Post("/api/detect?id=load.jpg", image, "image/jpeg");
        Timed& r = out[k];
        r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (!res) continue;
        r.status = res->status;
        r.retry_after = res->get_header_value("Retry-After");
        if (r.status == 200) {
          const json t = json::parse(res->body)["results"][0]["timing_ms"];
          r.served_ms = t["total"].get<double>() - t["queue"].get<double>();
          r.admitted_ms = t["total"].get<double>();
        } else {
          r.body = res->body;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

// About 10x the measured capacity, open loop, for LOOKOUT_OVERLOAD_SECONDS
// (default 10 s in `make test`; the Reliability figures are from 60 s).
TEST(Overload, TenTimesCapacityOnlyRefusesBeyondTheQueue) {
  constexpr int kQueue = 8;
  ServerProcess server(ServerOptions{{"--workers", "1", "--max-queue", std::to_string(kQueue)}, {}, false, {}});
  // The smallest real photo: the cost is the model's, not the upload's, so
  // the clients can offer 10x without taking the CPU from the server.
  const std::string photo = read_file(kPhotos / "libdlib19.1__frame_000100.jpg");
  const char* env = std::getenv("LOOKOUT_OVERLOAD_SECONDS");
  const double seconds = env ? std::atof(env) : 10.0;

  // Service time, measured here: one request at a time, round trip. (The
  // clients set TCP_NODELAY, as curl does: headers and body are two writes.)
  auto c = server.client();
  c->set_tcp_nodelay(true);
  std::vector<double> sequential;
  for (int i = 0; i < 12; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = c->Post("/api/detect?id=one.jpg", photo, "image/jpeg");
    ASSERT_TRUE(res && res->status == 200);
    if (i >= 2) sequential.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double service_ms = percentile(sequential, 0.5);
  // Capacity, measured here: the rate of 200s while the server is saturated
  // (2 s offered at 10x the sequential rate; the worker never waits).
  size_t probe_ok = 0;
  const auto probe_start = std::chrono::steady_clock::now();
  for (const Timed& o : open_loop(server, photo, 10 * 1000.0 / service_ms, 2.0, 2 * kQueue + 16))
    probe_ok += o.status == 200 ? 1 : 0;
  const double capacity =
      static_cast<double>(probe_ok) / std::chrono::duration<double>(std::chrono::steady_clock::now() - probe_start).count();
  ASSERT_GT(capacity, 0);
  const double rate = 10 * capacity;

  std::atomic<bool> done{false};
  std::vector<uint64_t> rss;
  std::thread sampler([&] {
    while (!done) {
      rss.push_back(server.rss_kib());
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Timed> outcomes = open_loop(server, photo, rate, seconds, 2 * kQueue + 16);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  sampler.join();

  std::vector<double> admitted_ms, served_ms, in_server_ms;
  int refused = 0, other = 0;
  for (const Timed& o : outcomes) {
    if (o.status == 200) {
      admitted_ms.push_back(o.ms);
      served_ms.push_back(o.served_ms);
      in_server_ms.push_back(o.admitted_ms);
    } else if (o.status == 503) {
      ++refused;
      EXPECT_FALSE(o.retry_after.empty()) << "a 503 without Retry-After";
    } else {
      ++other;
      if (other <= 3) ADD_FAILURE() << "status " << o.status << " (0 = no response): " << o.body.substr(0, 200);
    }
  }
  // A request let in waits for at most the queue ahead of it, then is
  // served: (queue + 1) x the service time, in the server (its queue wait
  // plus its own time, as it reports them; the round trip adds the client
  // threads' scheduling, which on 2 shared cores is noise). The service time
  // is the sequential round trip measured above, or the server's own time
  // per image under this load (its 90th percentile), if larger; x2 margin.
  const double served_p90 = percentile(served_ms, 0.9);
  const double bound_ms = 2 * (kQueue + 1) * std::max(service_ms, served_p90);
  const double p50 = percentile(admitted_ms, 0.5), p99 = percentile(admitted_ms, 0.99);
  const double in_server_p99 = percentile(in_server_ms, 0.99);
  const size_t third = rss.size() / 3;
  const uint64_t rss_first = third ? *std::max_element(rss.begin(), rss.begin() + static_cast<long>(third)) : 0;
  const uint64_t rss_last = third ? *std::max_element(rss.end() - static_cast<long>(third), rss.end()) : 0;
  std::printf("overload: service %.1f ms (sequential round trip), %.1f ms (server p90, under load); capacity %.1f/s; "
              "offered %.0f/s for %.1f s (%zu requests, took %.1f s); admitted %zu, 503 %d, other %d; admitted round trip p50 "
              "%.1f ms, p99 %.1f ms; in the server p99 %.1f ms, bound 2 x (queue %d + 1) x service = %.1f ms; sustained %.1f/s (offered/sustained %.1f); RSS max first third %.1f MiB, last third %.1f MiB\n",
              service_ms, served_p90, capacity, rate, seconds, outcomes.size(), elapsed, admitted_ms.size(), refused,
              other, p50, p99, in_server_p99, kQueue, bound_ms, admitted_ms.size() / elapsed, rate / (admitted_ms.size() / elapsed), rss_first / 1024.0, rss_last / 1024.0);
  RecordProperty("service_ms", static_cast<int>(service_ms));
  RecordProperty("admitted", static_cast<int>(admitted_ms.size()));
  RecordProperty("refused", refused);
  RecordProperty("p99_ms", static_cast<int>(p99));
  RecordProperty("in_server_p99_ms", static_cast<int>(in_server_p99));
  RecordProperty("bound_ms", static_cast<int>(bound_ms));
  RecordProperty("rss_first_mib", static_cast<int>(rss_first / 1024));
  RecordProperty("rss_last_mib", static_cast<int>(rss_last / 1024));

  EXPECT_EQ(other, 0);
  EXPECT_GT(refused, static_cast<int>(outcomes.size() / 2)) << "10x capacity: most requests must be refused";
  EXPECT_GE(admitted_ms.size(), 1u);
  // Far over what the server sustained in the same run.
  EXPECT_GE(rate, 4 * static_cast<double>(admitted_ms.size()) / elapsed) << "the load did not overload the server";
  EXPECT_LE(in_server_p99, bound_ms) << "admitted requests waited longer than the queue allows";
  // Flat: the last third of the run peaks no more than 10 % (+ 16 MiB of
  // allocator slack) above the first. Under AddressSanitizer freed memory
  // waits in its quarantine (256 MiB by default) before reuse, so RSS
  // climbs until that is full: the bound allows it there.
  const uint64_t asan_quarantine_kib = std::getenv("LOOKOUT_SANITIZED") != nullptr ? 256 * 1024 : 0;
  EXPECT_LE(rss_last, rss_first + rss_first / 10 + 16 * 1024 + asan_quarantine_kib)
      << "RSS grew under sustained overload";
  expect_healthy(server);
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
