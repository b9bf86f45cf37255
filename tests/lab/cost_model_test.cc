// The cost model's arithmetic on measurements with known answers.
#include <gtest/gtest.h>

#include "offload/cost_model.h"

namespace lookout::offload {
namespace {

TEST(FitLine, RecoversAnExactLine) {
  const LineFit f = fit_line({1, 2, 3, 4}, {5, 7, 9, 11});
  EXPECT_NEAR(f.slope, 2, 1e-12);
  EXPECT_NEAR(f.intercept, 3, 1e-12);
  EXPECT_NEAR(f.r2, 1, 1e-12);
  EXPECT_THROW(fit_line({1, 1, 1}, {1, 2, 3}), std::invalid_argument);
  EXPECT_THROW(fit_line({1}, {1}), std::invalid_argument);
}

// Requests over a link with 40 ms RTT + 2 ms overhead and 10 Mbit/s (1250
// bytes per ms), to a server taking 12 ms per image; one failure, ignored.
std::vector<wire::Record> link_records() {
  std::vector<wire::Record> rs;
  for (double kb : {20.0, 80.0, 150.0, 300.0, 490.0}) {
    wire::Record r;
    r.ok = true;
    r.bytes_sent = static_cast<uint64_t>(kb * 1000);
    r.response_bytes = 1000;
    r.timing.queue = 1;
    r.timing.decode = 3;
    r.timing.inference = 7;
    r.timing.postprocess = 1;
    r.timing.round_trip = 42 + static_cast<double>(r.bytes_sent + r.response_bytes) / 1250.0 + 12;
    rs.push_back(r);
  }
  wire::Record failed;
  failed.bytes_sent = 1000;
  failed.timing.round_trip = 5000;
  rs.push_back(failed);
  return rs;
}

RemoteProfile fitted(double mean_request_bytes) {
  RemoteProfile p;
  p.rtt_ms = 40;
  p.mean_request_bytes = mean_request_bytes;
  p.mean_response_bytes = 1000;
  fit_remote(link_records(), p);
  return p;
}

TEST(FitRemote, RecoversBandwidthOverheadAndServerTime) {
  const RemoteProfile p = fitted(100000);
  EXPECT_NEAR(p.bandwidth_mbps, 10.0, 1e-9);
  EXPECT_NEAR(p.overhead_ms, 2.0, 1e-9);
  EXPECT_NEAR(p.server_ms, 12.0, 1e-9);
  EXPECT_NEAR(p.fit_r2, 1.0, 1e-12);
}

TEST(FitRemote, RefusesRecordsThatCannotShowALink) {
  RemoteProfile p;
  std::vector<wire::Record> same = link_records();
  for (wire::Record& r : same) r.bytes_sent = 5000;
  EXPECT_THROW(fit_remote(same, p), std::invalid_argument);
  std::vector<wire::Record> faster_when_larger = link_records();
  for (wire::Record& r : faster_when_larger) r.timing.round_trip = 1e6 / static_cast<double>(r.bytes_sent + 1);
  EXPECT_THROW(fit_remote(faster_when_larger, p), std::invalid_argument);
}

// Downscaled uploads all of one size cannot show the link; the same link's
// requests as is, in the fit beside them, do, and the server time stays
// the downscaled requests' own (4 ms for a small image).
TEST(FitRemote, TakesTheLinkFromAProbeWhenTheUploadsAreAlike) {
  std::vector<wire::Record> downscaled = link_records();
  for (wire::Record& r : downscaled) {
    r.bytes_sent = 27000;
    r.timing.decode = 1;
    r.timing.inference = 1;
    r.timing.round_trip = 42 + 28000 / 1250.0 + 4;
  }
  RemoteProfile p;
  p.rtt_ms = 40;
  EXPECT_THROW(fit_remote(downscaled, p), std::invalid_argument);
  fit_remote(downscaled, p, link_records());
  EXPECT_NEAR(p.bandwidth_mbps, 10.0, 1e-9);
  EXPECT_NEAR(p.overhead_ms, 2.0, 1e-9);
  EXPECT_NEAR(p.server_ms, 4.0, 1e-9);
  // Small uploads that pay 5 ms more than the line through the large ones:
  // the slope stays the probe's, the line goes through the uploads' own mean.
  for (wire::Record& r : downscaled) r.timing.round_trip += 5;
  fit_remote(downscaled, p, link_records());
  EXPECT_NEAR(p.rtt_ms + p.overhead_ms + 28000 / (p.bandwidth_mbps * 125), 42 + 28000 / 1250.0 + 5, 1e-9);
  EXPECT_NEAR(p.bandwidth_mbps, 10.13, 0.01);  // the five uploads tilt the line a little
  EXPECT_NEAR(p.server_ms, 4.0, 1e-9);
}

TEST(CostModel, PredictsTheFittedRequests) {
  const CostModel m({100, 1}, fitted(100000));
  for (const wire::Record& r : link_records())
    if (r.ok) {
      EXPECT_NEAR(m.remote_ms(static_cast<double>(r.bytes_sent)), r.timing.round_trip, 1e-6);
    }
  // 42 + 12 fixed, 101000 bytes at 1250 bytes/ms.
  EXPECT_NEAR(m.remote_ms_at(10, 40), 54 + 101000 / 1250.0, 1e-9);
  EXPECT_NEAR(m.remote_ms_at(20, 10), 24 + 101000 / 2500.0, 1e-9);
}

TEST(CostModel, BreakEvenIsWhereBothSidesTakeTheSameTime) {
  const CostModel m({100, 1}, fitted(100000));  // remote: 54 + 80.8 = 134.8 ms > 100 ms local
  EXPECT_FALSE(m.remote_pays());
  ASSERT_TRUE(m.break_even_bandwidth_mbps().has_value());
  EXPECT_NEAR(m.remote_ms_at(*m.break_even_bandwidth_mbps(), 40), 100, 1e-9);
  // At 10 Mbit/s the transfer alone (80.8) + overhead + server (14) leave 5.2 ms for the RTT.
  ASSERT_TRUE(m.break_even_rtt_ms().has_value());
  EXPECT_NEAR(*m.break_even_rtt_ms(), 100 - 2 - 12 - 80.8, 1e-9);
  EXPECT_NE(m.verdict().find("Run locally"), std::string::npos) << m.verdict();

  const CostModel fast_local({50, 1}, fitted(100000));  // fixed part alone is 54 ms
  EXPECT_FALSE(fast_local.break_even_bandwidth_mbps().has_value());
  EXPECT_FALSE(fast_local.break_even_rtt_ms().has_value());
  EXPECT_NE(fast_local.verdict().find("no bandwidth makes it pay"), std::string::npos) << fast_local.verdict();

  const CostModel slow_local({400, 1}, fitted(100000));
  EXPECT_TRUE(slow_local.remote_pays());
  EXPECT_NE(slow_local.verdict().find("Offload"), std::string::npos) << slow_local.verdict();
}

TEST(CostModel, WrittenToItsSummaryAndReadBack) {
  RemoteProfile p = fitted(100000);
  p.url = "http://r:5029";
  p.concurrency = 4;
  p.server_workers = 2;
  const CostModel m({100, 3}, p);
  const lookout::wire::OffloadSummary s = m.summary("small", 33, 100000);
  EXPECT_EQ(s.collection, "small");
  EXPECT_EQ(s.images, 33u);
  EXPECT_DOUBLE_EQ(s.remote.ms_per_image, m.remote_ms_at(p.bandwidth_mbps, p.rtt_ms));
  EXPECT_DOUBLE_EQ(s.model.fixed_ms, m.fixed_ms());
  EXPECT_DOUBLE_EQ(s.model.bytes_per_image, m.bytes_per_image());
  EXPECT_EQ(s.break_even.bandwidth_mbps, m.break_even_bandwidth_mbps());
  EXPECT_EQ(s.verdict, m.verdict());
  EXPECT_EQ(s.remote.workers, 4);

  const CostModel back = CostModel::from_summary(s);
  EXPECT_EQ(back.local().workers, 3);
  EXPECT_EQ(back.remote().url, "http://r:5029");
  EXPECT_EQ(back.remote().concurrency, 4);
  EXPECT_EQ(back.remote().server_workers, 2);
  EXPECT_DOUBLE_EQ(back.remote().fit_r2, p.fit_r2);
  EXPECT_DOUBLE_EQ(back.remote_ms_at(5, 20), m.remote_ms_at(5, 20));
  EXPECT_EQ(back.break_even_bandwidth_mbps(), m.break_even_bandwidth_mbps());
  EXPECT_EQ(back.break_even_rtt_ms(), m.break_even_rtt_ms());
  EXPECT_EQ(back.verdict(), m.verdict());
}

TEST(CostModel, HybridAddsTheRatesOfBothSides) {
  RemoteProfile p = fitted(100000);
  p.concurrency = 1;
  p.server_workers = 1;
  const CostModel m({134.8, 1}, p);
  const double t_remote = m.remote_ms_at(p.bandwidth_mbps, p.rtt_ms);
  const HybridPrediction h = m.hybrid(std::vector<double>(100, 100000));
  EXPECT_NEAR(h.local_rate, 1000 / 134.8, 1e-9);
  EXPECT_NEAR(h.remote_rate, 1000 / t_remote, 1e-9);
  // Many images: the wall time approaches images / (sum of the rates), within one image of the slower side.
  EXPECT_NEAR(h.wall_s, 100 / (h.local_rate + h.remote_rate), std::max(134.8, t_remote) / 1000);
  EXPECT_NEAR(h.local_share, 0.5, 0.01);
  // Many requests in flight are capped by the uplink: 1250 bytes/ms / 100 kB = 12.5 images/s.
  p.concurrency = 64;
  p.server_workers = 64;
  EXPECT_NEAR(CostModel({134.8, 1}, p).hybrid({100000}).remote_rate, 12.5, 1e-9);
}

TEST(CostModel, HybridPlaysTheSharedQueueOutImageByImage) {
  // Local 10 ms per image; the remote 95 ms + 1 ms per 10 kB (RTT 40 +
  // overhead 5 + server 50; 80 Mbit/s = 10 kB/ms, no response bytes).
  RemoteProfile p;
  p.rtt_ms = 40;
  p.overhead_ms = 5;
  p.server_ms = 50;
  p.bandwidth_mbps = 80;
  p.concurrency = 1;
  p.server_workers = 1;
  const CostModel m({10.0, 1}, p);
  // 12 images of no bytes: at 0 each side takes one (local first; the
  // other 11 would take local 110 ms, more than the remote's 95). Then
  // local takes one every 10 ms (10 in all by 90, busy until 100), and at
  // 95 the remote, with one image left that local finishes by 110, leaves
  // it (client::leave_to_others): 110. The schedule is played at the local
  // pace x0.85 .. x1.15 in steps of 0.05 and the median kept: walls 95,
  // 99, 104.5 (local has taken the rest by 95), then 110, 115.5, 121 and
  // 126.5 (the remote leaves local the last one or two).
  HybridPrediction h = m.hybrid(std::vector<double>(12, 0));
  EXPECT_NEAR(h.wall_s, 0.110, 1e-9);
  EXPECT_NEAR(h.local_share, 11.0 / 12.0, 1e-9);
  // A local side of 9 ms: walls 95, 95, 95, 99, 103.95, 108.9, 113.85; the median is 99.
  EXPECT_NEAR(CostModel({9.0, 1}, p).hybrid(std::vector<double>(12, 0)).wall_s, 0.099, 1e-9);
  // The remote judges the image at hand by its bytes: a 500 kB second image
  // would take it 145 ms, more than local needs for the eleven left (120 at
  // its expected 10 ms), so it leaves them all to local: 12 x 10 ms.
  std::vector<double> sizes(12, 0);
  sizes[1] = 500000;
  h = m.hybrid(sizes);
  EXPECT_NEAR(h.wall_s, 0.120, 1e-9);
  EXPECT_NEAR(h.local_share, 1.0, 1e-9);
  // Last instead, it is left to local the same way, after the remote has
  // taken one small image at 0 (95 ms): local's eleven end at 110.
  std::swap(sizes[1], sizes[11]);
  h = m.hybrid(sizes);
  EXPECT_NEAR(h.wall_s, 0.110, 1e-9);
  EXPECT_NEAR(h.local_share, 11.0 / 12.0, 1e-9);
  // Two images: the remote leaves the second to local (20 ms < 95). No images, no time.
  EXPECT_NEAR(m.hybrid({0, 0}).wall_s, 0.020, 1e-9);
  EXPECT_NEAR(m.hybrid({0, 0}).local_share, 1.0, 1e-9);
  EXPECT_EQ(m.hybrid({}).wall_s, 0.0);
}

}  // namespace
}  // namespace lookout::offload
