// scripts/remote-lab.sh through tests/lab/remote_lab.h: the link measured
// from outside matches what was asked for: upload and download rate (tc tbf
// on each veth end) and the round trip of a small request (delay stage or
// netem), at two settings, the second applied with set() to the running
// lab. Tolerances are wide (25 %) because this machine is shared and loaded;
// wrong shaping (none, one direction only, a wrong unit) is far outside them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "lab/remote_lab.h"

namespace lookout::lab_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kTolerance = 0.25;
// TCP/IP headers on a 1514-byte frame (1448 bytes of payload with timestamps):
// what tbf counts that the application does not.
constexpr double kPayloadShare = 1448.0 / 1514.0;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::unique_ptr<httplib::Client> client(const std::string& url) {
  auto c = std::make_unique<httplib::Client>(url);
  c->set_connection_timeout(10);
  c->set_read_timeout(120);
  c->set_write_timeout(120);
  c->set_keep_alive(true);
  return c;
}

// Fastest of 9 small GETs on an open (keep-alive) connection: one round trip
// plus the server's (tiny) handling. The delay is a floor and a busy machine
// only adds to it, so the minimum is the link's round trip (as ping's min).
double small_request_ms(httplib::Client& c) {
  EXPECT_TRUE(c.Get("/healthz"));  // opens the connection
  std::vector<double> ms;
  for (int i = 0; i < 9; i++) {
    const auto t = Clock::now();
    const auto res = c.Get("/healthz");
    ms.push_back(ms_since(t));
    EXPECT_TRUE(res && res->status == 200);
  }
  return *std::min_element(ms.begin(), ms.end());
}

// Upload rate in Mbit/s, measured by curl on a fresh connection: a body of
// `bytes` POSTed (the server refuses it as an image once it has it all),
// from the request's start to the answer, minus one round trip.
double upload_mbps(const std::string& url, size_t bytes, double rtt_ms) {
  lookout::testing::TempDir dir;
  const std::filesystem::path body = dir.path() / "body.bin";
  {
    std::ofstream out(body, std::ios::binary);
    const std::string zeros(bytes, '\0');
    out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  // No "Expect: 100-continue": the body goes at once, as a client's would.
  const std::string cmd = "curl -sS --max-time 120 -o /dev/null -H 'Expect:' -H 'Content-Type: image/jpeg' "
                          "-w '%{http_code} %{time_pretransfer} %{time_total}' --data-binary @" +
                          lookout::testing::shell_quote(body.string()) + " " + url + "/api/detect 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[256];
  for (size_t n; p != nullptr && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (p != nullptr) ::pclose(p);
  int code = 0;
  double pretransfer = 0, total = 0;
  if (std::sscanf(out.c_str(), "%d %lf %lf", &code, &pretransfer, &total) != 3) {
    ADD_FAILURE() << cmd << ": " << out;
    return 0;
  }
  EXPECT_EQ(code, 400) << "not an image: refused after the whole body arrived";
  const double ms = (total - pretransfer) * 1000 - rtt_ms;
  return static_cast<double>(bytes) * 8 / (ms * 1000);
}

// Download rate in Mbit/s: `bytes` sent from inside the lab's namespace to a
// listener on this side of the link, timed from the first byte to the end.
double download_mbps(const RemoteLab& lab, size_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  ::inet_pton(AF_INET, lab.host_address().c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot listen on " << lab.host_address();
    return 0;
  }
  const std::string send = "ip netns exec " + lab.netns() + " bash -c 'head -c " + std::to_string(bytes) + " /dev/zero > /dev/tcp/" +
                           lab.host_address() + "/" + std::to_string(ntohs(addr.sin_port)) + "'";
  auto sender = std::async(std::launch::async, [send] { return std::system(send.c_str()); });
  const int conn = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  std::vector<char> buf(1 << 16);
  size_t got = 0;
  Clock::time_point first{};
  while (true) {
    const ssize_t n = ::read(conn, buf.data(), buf.size());
    if (n <= 0) break;
    if (got == 0) first = Clock::now();
    got += static_cast<size_t>(n);
  }
  const double ms = ms_since(first);
  ::close(conn);
  EXPECT_EQ(sender.get(), 0) << send;
  EXPECT_EQ(got, bytes);
  return static_cast<double>(got) * 8 / (ms * 1000);
}

void expect_rate(double measured_mbps, double set_mbps, const char* direction) {
  const double expected = set_mbps * kPayloadShare;
  EXPECT_NEAR(measured_mbps, expected, expected * kTolerance) << direction << " at " << set_mbps << " Mbit/s";
}

// Round trip: never below the setting (the delay is a floor), above it by at
// most the tolerance plus 8 ms for the server and the delay stage being
// scheduled on a busy machine. Settings of 40 and 20 ms keep "no delay" and
// "twice the delay" outside the bounds.
void expect_rtt(double measured_ms, double set_ms) {
  EXPECT_GE(measured_ms, set_ms * 0.95);
  EXPECT_LE(measured_ms, set_ms * (1 + kTolerance) + 8.0);
}

// Round trip, upload and download of the lab's current link (set_mbps each
// way, set_rtt_ms), against the settings; `bytes` per transfer (about 1.5 s worth).
void expect_link(const RemoteLab& lab, httplib::Client& c, double set_mbps, double set_rtt_ms, size_t bytes) {
  const double rtt = small_request_ms(c);
  const double up = upload_mbps(lab.url(), bytes, rtt);
  const double down = download_mbps(lab, bytes);
  std::printf("%g Mbit/s, %g ms: small request %.1f ms, upload %.2f Mbit/s, download %.2f Mbit/s\n", set_mbps, set_rtt_ms, rtt,
              up, down);
  expect_rtt(rtt, set_rtt_ms);
  expect_rate(up, set_mbps, "upload");
  expect_rate(down, set_mbps, "download");
}

TEST(RemoteLab, RateAndRoundTripMatchTheSettingsAndFollowSet) {
  if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  RemoteLab lab("10mbit", "40ms");
  auto c = client(lab.url());
  expect_link(lab, *c, 10, 40, 2'000'000);
  lab.set("100mbit", "20ms");
  expect_link(lab, *c, 100, 20, 6'000'000);  // on the connection opened before set
  if (HasFailure()) ADD_FAILURE() << lab.status();
}

TEST(RemoteLab, TwoLabsCoexistAndDownRemovesEverything) {
  if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  std::string netns;
  std::filesystem::path run_dir;
  {
    RemoteLab a("50mbit", "2ms");
    RemoteLab b("50mbit", "2ms");
    EXPECT_NE(a.url(), b.url());
    EXPECT_NE(a.server_address(), b.server_address());
    auto ca = client(a.url()), cb = client(b.url());
    const auto ra = ca->Get("/v2/health/ready"), rb = cb->Get("/v2/health/ready");
    EXPECT_TRUE(ra && ra->status == 200);
    EXPECT_TRUE(rb && rb->status == 200);
    netns = a.netns();
    run_dir = a.run_dir();
  }
  const std::string check = "ip netns list | grep -qw " + netns;
  EXPECT_NE(std::system(check.c_str()), 0) << "namespace " << netns << " still there after down";
  EXPECT_FALSE(std::filesystem::exists(run_dir / "state")) << "down left the lab's state behind";
}

}  // namespace
}  // namespace lookout::lab_test
