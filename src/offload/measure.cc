#include "offload/measure.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace lookout::offload {

namespace fs = std::filesystem;

namespace {

uint64_t size_of(const client::ImageFile& j) {
  std::error_code ec;
  const uintmax_t n = fs::file_size(j.path, ec);
  return ec ? 0 : n;
}

}  // namespace

std::vector<client::ImageFile> size_spread_sample(const std::vector<client::ImageFile>& jobs, size_t n) {
  if (jobs.size() <= n) return jobs;
  std::vector<std::pair<uint64_t, size_t>> by_size;
  for (size_t i = 0; i < jobs.size(); ++i) by_size.emplace_back(size_of(jobs[i]), i);
  std::sort(by_size.begin(), by_size.end());
  std::vector<client::ImageFile> sample;
  for (size_t k = 0; k < n; ++k) {
    const size_t at = n == 1 ? by_size.size() / 2 : k * (by_size.size() - 1) / (n - 1);
    sample.push_back(jobs[by_size[at].second]);
  }
  return sample;
}

std::vector<double> file_bytes(const std::vector<client::ImageFile>& jobs) {
  std::vector<double> bytes;
  for (const client::ImageFile& j : jobs) bytes.push_back(static_cast<double>(size_of(j)));
  return bytes;
}

double mean_file_bytes(const std::vector<client::ImageFile>& jobs) {
  if (jobs.empty()) return 0;
  const std::vector<double> bytes = file_bytes(jobs);
  return std::accumulate(bytes.begin(), bytes.end(), 0.0) / static_cast<double>(bytes.size());
}

namespace {

// Of one image's tries, the one with the median round trip (of an even
// count the lower middle one); a failed try only when every try failed (so
// its error is reported). The lower one, because a try's outlier is a
// stall (on the lab's 1 Mbit/s link, a dropped packet's 200 ms
// retransmission timeout), never a gain: the upper middle of two tries is
// their maximum, and took such stalls into the fit, 25-35 % over the run.
wire::Record median_round_trip(std::vector<wire::Record>& tries) {
  std::vector<wire::Record> ok;
  for (wire::Record& t : tries)
    if (t.ok) ok.push_back(std::move(t));
  if (ok.empty()) return std::move(tries.front());
  const auto mid = ok.begin() + static_cast<std::ptrdiff_t>((ok.size() - 1) / 2);
  std::nth_element(ok.begin(), mid, ok.end(),
                   [](const wire::Record& a, const wire::Record& b) { return a.timing.round_trip < b.timing.round_trip; });
  return std::move(*mid);
}

}  // namespace

SampleRecords time_sample(client::Worker& local, client::Worker& remote, const std::vector<client::ImageFile>& sample,
                          int rounds) {
  SampleRecords out;
  if (sample.empty() || rounds < 1) return out;
  // tries[i] holds image i's records, one per round.
  std::vector<std::vector<wire::Record>> local_tries(sample.size()), remote_tries(sample.size());
  // Each side's passes run back to back, as the runs they predict do, after
  // a warm-up, and for at least a window of time: this machine's speed
  // swings by 30-40 % every few hundred ms (measured: the same engine run
  // takes 5.2 or 7.5 ms), so a shorter window measures one swing rather
  // than the mean a whole run sees. At a slow link the remote's passes are
  // long anyway.
  constexpr auto kWarmUp = std::chrono::milliseconds(300);
  constexpr auto kLocalWindow = std::chrono::milliseconds(3000);
  constexpr auto kRemoteWindow = std::chrono::milliseconds(1500);
  constexpr int kMaxPasses = 30;
  using Clock = std::chrono::steady_clock;
  const auto warm_up = [&](client::Worker& worker) {
    const auto start = Clock::now();
    size_t i = 0;
    do {
      worker.process(sample[i++ % sample.size()]);
    } while (Clock::now() - start < kWarmUp);
  };
  const auto pass = [&](client::Worker& worker, std::vector<std::vector<wire::Record>>& tries,
                        std::chrono::milliseconds window) {
    warm_up(worker);
    const auto start = Clock::now();
    for (int r = 0; r < kMaxPasses && (r < rounds || Clock::now() - start < window); ++r)
      for (size_t k = 0; k < sample.size(); ++k) tries[k].push_back(worker.process(sample[k]));
  };
  // The remote alone first, the local alone last: the validation runs go
  // local, hybrid, remote (cycle.cc), so the local side is measured just
  // before its run and the side by side window soon before the hybrid's.
  // This machine's speed drifts over tens of seconds, and at 1 Mbit/s the
  // remote passes take that long.
  pass(remote, remote_tries, kRemoteWindow);

  // Side by side, as in the hybrid run: the local worker keeps detecting
  // while the remote one sends the sample's images in turn, for a window
  // as long as the local one's. On one machine each side slows the other:
  // the local detector shares its core with the uploads, and here the
  // remote's core with the local one (the two cores of this VM behave like
  // one core's two hyperthreads: 30-40 % slower when both compute).
  warm_up(local);
  std::atomic<bool> remote_done{false};
  std::thread sender([&] {
    const auto start = Clock::now();
    for (size_t j = 0; j == 0 || Clock::now() - start < kLocalWindow; ++j)
      out.remote_beside.push_back(remote.process(sample[j % sample.size()]));
    remote_done = true;
  });
  for (size_t i = 0; !remote_done; ++i) out.local_beside.push_back(local.process(sample[i % sample.size()]));
  sender.join();
  pass(local, local_tries, kLocalWindow);
  for (size_t i = 0; i < sample.size(); ++i) {
    for (wire::Record& r : local_tries[i]) out.local.push_back(std::move(r));
    out.remote.push_back(median_round_trip(remote_tries[i]));
  }
  return out;
}

std::vector<wire::Record> probe_link(client::Worker& as_is, const std::vector<client::ImageFile>& sample, int rounds) {
  // One pass at a slow link (where a pass takes seconds and the transfer
  // dwarfs the noise), up to `rounds` within 1.5 s at a fast one.
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::vector<std::vector<wire::Record>> tries(sample.size());
  for (int r = 0; r == 0 || (r < rounds && Clock::now() - start < std::chrono::milliseconds(1500)); ++r)
    for (size_t k = 0; k < sample.size(); ++k) tries[k].push_back(as_is.process(sample[k]));
  std::vector<wire::Record> out;
  for (std::vector<wire::Record>& t : tries) out.push_back(median_round_trip(t));
  return out;
}

LocalProfile local_profile(const SampleRecords& timed, int workers) {
  const RunMeasurement alone = measure_run(timed.local, 0);
  if (alone.images == 0) {
    std::string why = timed.local.empty() ? "no images" : timed.local.front().error;
    throw std::runtime_error("no sample image could be processed locally: " + why);
  }
  const RunMeasurement beside = measure_run(timed.local_beside, 0);
  return {alone.ms_per_image, workers, beside.images ? beside.ms_per_image : alone.ms_per_image};
}

RemoteProfile remote_profile(const client::TargetSpec& target, const client::HttpOptions& http,
                             const SampleRecords& timed, double mean_request_bytes, int concurrency) {
  const std::vector<wire::Record>& records = timed.remote;
  RemoteProfile p;
  p.url = target.name;
  p.concurrency = concurrency;
  p.mean_request_bytes = mean_request_bytes;
  p.rtt_ms = client::measure_rtt_ms(target, http, 10);
  p.server_workers = std::max(1, client::fetch_model_info(target, http).models.front().workers);
  size_t ok = 0;
  double response = 0;
  for (const wire::Record& r : records)
    if (r.ok) {
      ++ok;
      response += static_cast<double>(r.response_bytes);
    }
  if (ok == 0) {
    std::string why = records.empty() ? "no images" : records.front().error;
    throw std::runtime_error("no sample image could be detected remotely: " + why);
  }
  p.mean_response_bytes = response / static_cast<double>(ok);
  double prepare = 0;
  for (const wire::Record& r : records) prepare += r.ok ? r.timing.prepare : 0.0;
  p.prepare_ms = prepare / static_cast<double>(ok);
  try {
    fit_remote(records, p, timed.link_probe);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("cannot model the link to ") + target.name + ": " + e.what());
  }
  // The same images' whole remote times (the downscaling included: on a
  // capped device it shares the cap with the local detector, and slows the
  // most) beside the local detector against alone.
  double beside = 0, alone = 0;
  for (size_t j = 0; j < timed.remote_beside.size() && !records.empty(); ++j)
    if (const wire::Record& alone_k = records[j % records.size()]; timed.remote_beside[j].ok && alone_k.ok) {
      beside += timed.remote_beside[j].timing.total;
      alone += alone_k.timing.total;
    }
  if (alone > 0) p.hybrid_slowdown = beside / alone;
  return p;
}

}  // namespace lookout::offload
