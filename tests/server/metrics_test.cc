// GET /metrics: the exposition parsed strictly (prometheus_text.h, and
// `promtool check metrics` too when promtool is installed), the documented
// families with their types, and counters that move with requests. The
// parser itself is tested first on good and bad expositions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "server/prometheus_text.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

constexpr const char* kGood =
    "# HELP req_total Requests.\n"
    "# TYPE req_total counter\n"
    "req_total{route=\"/a\",code=\"200\"} 3\n"
    "req_total{route=\"/a\",code=\"503\"} 0\n"
    "# HELP lat_seconds Latency.\n"
    "# TYPE lat_seconds histogram\n"
    "lat_seconds_bucket{le=\"0.1\"} 1\n"
    "lat_seconds_bucket{le=\"1\"} 2\n"
    "lat_seconds_bucket{le=\"+Inf\"} 3\n"
    "lat_seconds_sum 4.5\n"
    "lat_seconds_count 3\n"
    "# TYPE depth gauge\n"
    "depth 0\n";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at == std::string::npos) throw std::logic_error("no '" + from + "' in the fixture");
  return s.replace(at, from.size(), to);
}

TEST(PrometheusParser, AcceptsAGoodExposition) {
  const auto ex = prom::parse(kGood);
  EXPECT_EQ(ex.family("req_total")->type, "counter");
  EXPECT_EQ(ex.family("lat_seconds")->type, "histogram");
  EXPECT_EQ(ex.value("req_total", {{"route", "/a"}, {"code", "200"}}), 3.0);
  EXPECT_EQ(ex.value("lat_seconds_count", {}), 3.0);
  EXPECT_EQ(prom::parse("# TYPE g gauge\ng -1.5e-3 1700000000000\n").value("g", {}), -1.5e-3);
  EXPECT_TRUE(std::isnan(*prom::parse("# TYPE g gauge\ng NaN\n").value("g", {})));
}

TEST(PrometheusParser, RejectsWhatPromtoolWould) {
  const std::string g = kGood;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no final newline", g.substr(0, g.size() - 1)},
      {"sample before TYPE", "depth 1\n# TYPE depth gauge\n"},
      {"non-cumulative buckets", replace(g, "le=\"1\"} 2", "le=\"1\"} 0")},
      {"no +Inf bucket", replace(g, "lat_seconds_bucket{le=\"+Inf\"} 3\n", "")},
      {"count != +Inf", replace(g, "lat_seconds_count 3", "lat_seconds_count 4")},
      {"no _sum", replace(g, "lat_seconds_sum 4.5\n", "")},
      {"bad metric name", replace(g, "depth 0", "3depth 0")},
      {"bad label name", replace(g, "route=", "ro-ute=")},
      {"unquoted label", replace(g, "code=\"503\"", "code=503")},
      {"bad escape", replace(g, "/a\",code=\"503", "/a\\q\",code=\"503")},
      {"bad value", replace(g, "depth 0", "depth zero")},
      {"bad exponent", replace(g, "depth 0", "depth 1e")},
      {"bad timestamp", replace(g, "depth 0", "depth 0 12x")},
      {"duplicate series", g + "depth 1\n"},
      {"interleaved families", replace(g, "# TYPE depth gauge\ndepth 0\n", "# TYPE depth gauge\ndepth 0\nreq_total{route=\"/b\",code=\"200\"} 1\n")},
      {"second TYPE", g + "# TYPE depth gauge\n"},
      {"unknown type", replace(g, "depth gauge", "depth meter")},
      {"negative counter", replace(g, "} 3\n", "} -3\n")},
      {"decreasing le", replace(g, "le=\"1\"", "le=\"0.05\"")},
      {"counter sample with a suffix", replace(g, "req_total{route=\"/a\",code=\"503\"}", "req_total_x{route=\"/a\",code=\"503\"}")},
      {"trailing junk", replace(g, "depth 0", "depth 0 12 extra")},
  };
  for (const auto& [why, text] : bad) {
    EXPECT_THROW(prom::parse(text), std::runtime_error) << why;
  }
}

class MetricsTest : public SharedServerTest {
 protected:
  static void SetUpTestSuite() { start(ServerOptions{{"--workers", "1"}, {}, false, {}}); }
  prom::Exposition scrape() {
    auto res = server_->client()->Get("/metrics");
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200);
    EXPECT_THAT(res->get_header_value("Content-Type"), ::testing::HasSubstr("text/plain"));
    last_ = res->body;
    return prom::parse(res->body);
  }
  std::string last_;
};

TEST_F(MetricsTest, ExpositionIsStrictlyValidWithTheIssuesFamilies) {
  // Some traffic first, so histograms and counters have series.
  auto c = server_->client();
  ASSERT_TRUE(c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg"));
  ASSERT_TRUE(c->Post("/api/detect", "x", "text/plain"));
  prom::Exposition ex;
  ASSERT_NO_THROW(ex = scrape()) << last_;
  const std::vector<std::pair<std::string, std::string>> want = {
      {"lookout_request_duration_seconds", "histogram"},
      {"lookout_queue_duration_seconds", "histogram"},
      {"lookout_inference_duration_seconds", "histogram"},
      {"lookout_requests_total", "counter"},
      {"lookout_images_total", "counter"},
      {"lookout_inflight_requests", "gauge"},
      {"lookout_queue_depth", "gauge"},
  };
  for (const auto& [name, type] : want) {
    const prom::Family* f = ex.family(name);
    ASSERT_NE(f, nullptr) << name << " missing:\n" << last_;
    EXPECT_EQ(f->type, type) << name;
    EXPECT_FALSE(f->help.empty()) << name << " has no HELP";
  }
  EXPECT_GE(ex.value("lookout_requests_total", {{"route", "/api/detect"}, {"code", "415"}}).value_or(0), 1);
  EXPECT_GE(ex.value("lookout_images_total", {{"model", kModelName}, {"status", "ok"}}).value_or(0), 1);
}

TEST_F(MetricsTest, PromtoolAgreesWhenInstalled) {
  if (run_command("command -v promtool").status != 0) GTEST_SKIP() << "promtool is not installed";
  scrape();
  TempDir tmp;
  write_file(tmp.path() / "metrics.txt", last_);
  const auto r = run_command("promtool check metrics < " + shell_quote((tmp.path() / "metrics.txt").string()) + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST_F(MetricsTest, CountersMoveWithRequests) {
  const prom::Labels ok200 = {{"route", "/api/detect"}, {"code", "200"}};
  const auto before = scrape();
  const double req0 = before.value("lookout_requests_total", ok200).value_or(0);
  const double img0 = before.value("lookout_images_total", {{"model", kModelName}, {"status", "ok"}}).value_or(0);
  const double failed0 = before.value("lookout_images_total", {{"model", kModelName}, {"status", "failed"}}).value_or(0);
  const double lat0 = before.value("lookout_inference_duration_seconds_count", {{"model", kModelName}}).value_or(0);

  auto c = server_->client();
  auto res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  httplib::MultipartFormDataItems items = {
      {"images", read_file(kDog), "dog.jpg", "image/jpeg"},
      {"images", "not a jpeg", "bad.jpg", "image/jpeg"},
  };
  res = c->Post("/api/detect", items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;

  const auto after = scrape();
  EXPECT_EQ(after.value("lookout_requests_total", ok200).value_or(0), req0 + 2);
  EXPECT_EQ(after.value("lookout_images_total", {{"model", kModelName}, {"status", "ok"}}).value_or(0), img0 + 2);
  EXPECT_EQ(after.value("lookout_images_total", {{"model", kModelName}, {"status", "failed"}}).value_or(0), failed0 + 1);
  EXPECT_GE(after.value("lookout_inference_duration_seconds_count", {{"model", kModelName}}).value_or(0), lat0 + 2);
  EXPECT_EQ(after.value("lookout_queue_depth", {{"model", kModelName}}).value_or(-1), 0);
}

}  // namespace
}  // namespace lookout::server_test
