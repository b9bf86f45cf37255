#include "offload/cost_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "client/run.h"

namespace lookout::offload {

namespace {

// megabits/s -> bytes per millisecond
double bytes_per_ms(double mbps) { return mbps * 1e6 / 8.0 / 1000.0; }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw std::invalid_argument("a line fit needs at least two points");
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0) throw std::invalid_argument("a line fit needs points with different x");
  LineFit f;
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  f.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1.0;
  f.points = x.size();
  return f;
}

double server_ms(const wire::Record& r) {
  const wire::RecordTimes& t = r.timing;
  return t.queue + t.decode + t.preprocess + t.inference + t.postprocess;
}

void fit_remote(const std::vector<wire::Record>& records, RemoteProfile& remote,
                const std::vector<wire::Record>& link_probe) {
  std::vector<double> x, y;
  double server = 0;
  size_t served = 0;
  const auto add = [&](const wire::Record& r) {
    x.push_back(static_cast<double>(r.bytes_sent + r.response_bytes));
    y.push_back(r.timing.round_trip - server_ms(r));
  };
  for (const wire::Record& r : records)
    if (r.ok) {
      add(r);
      server += server_ms(r);
      ++served;
    }
  if (served < 3) throw std::invalid_argument("too few successful remote requests to fit the link (need 3)");
  for (const wire::Record& r : link_probe)
    if (r.ok) add(r);
  const LineFit f = fit_line(x, y);
  if (f.slope <= 0)
    throw std::invalid_argument("larger images did not take longer to send: the link is too fast (or too noisy) "
                                "to measure its bandwidth; use more or larger images (--sample)");
  remote.bandwidth_mbps = 1.0 / f.slope * 8.0 * 1000.0 / 1e6;
  // The probe's larger requests set the slope; the line goes through the
  // records' own mean, so the requests it predicts are not pulled off by
  // the probe's (small uploads at a slow link pay more than the line
  // through large ones says: 15-25 % at 1 Mbit/s here).
  double intercept = f.intercept;
  if (x.size() > served) {
    intercept = 0;
    for (size_t i = 0; i < served; ++i) intercept += (y[i] - f.slope * x[i]) / static_cast<double>(served);
  }
  remote.overhead_ms = intercept - remote.rtt_ms;
  remote.fit_r2 = f.r2;
  remote.server_ms = server / static_cast<double>(served);
}

RunMeasurement measure_run(const std::vector<wire::Record>& records, double wall_s) {
  RunMeasurement m;
  m.wall_s = wall_s;
  double sum = 0;
  for (const wire::Record& r : records)
    if (r.ok) {
      ++m.images;
      sum += r.timing.total;
    }
  m.ms_per_image = m.images ? sum / static_cast<double>(m.images) : 0.0;
  return m;
}

double CostModel::remote_ms(double request_bytes) const {
  return fixed_ms() + (request_bytes + remote_.mean_response_bytes) / bytes_per_ms(remote_.bandwidth_mbps);
}

double CostModel::remote_ms_at(double bandwidth_mbps, double rtt_ms) const {
  return remote_.prepare_ms + rtt_ms + remote_.overhead_ms + remote_.server_ms +
         bytes_per_image() / bytes_per_ms(bandwidth_mbps);
}

std::optional<double> CostModel::break_even_bandwidth_mbps() const {
  const double spare = local_.ms_per_image - fixed_ms();  // ms left for the transfer
  if (spare <= 0) return std::nullopt;
  return bytes_per_image() / spare * 8.0 * 1000.0 / 1e6;
}

std::optional<double> CostModel::break_even_rtt_ms() const {
  const double rtt = local_.ms_per_image - remote_.prepare_ms - remote_.overhead_ms - remote_.server_ms -
                     bytes_per_image() / bytes_per_ms(remote_.bandwidth_mbps);
  if (rtt <= 0) return std::nullopt;
  return rtt;
}

double CostModel::remote_slowdown() const { return remote_.hybrid_slowdown > 0 ? remote_.hybrid_slowdown : 1.0; }

double CostModel::hybrid_local_ms() const {
  return local_.hybrid_ms_per_image > 0 ? local_.hybrid_ms_per_image : local_.ms_per_image;
}

double CostModel::hybrid_remote_ms() const {
  return remote_slowdown() * remote_ms_at(remote_.bandwidth_mbps, remote_.rtt_ms);
}

double CostModel::hybrid_remote_ms_per_byte() const {
  return remote_slowdown() / bytes_per_ms(remote_.bandwidth_mbps);
}

HybridPrediction CostModel::hybrid(const std::vector<double>& request_bytes) const {
  HybridPrediction h;
  // Each side as measured beside the other (see LocalProfile, RemoteProfile).
  const double local_ms = hybrid_local_ms();
  const double slowdown = remote_slowdown();
  h.local_rate = local_ms > 0 ? 1000.0 * local_.workers / local_ms : 0.0;
  double remote_rate = 1000.0 * remote_.concurrency / hybrid_remote_ms();
  // One uplink: at most bandwidth / request bytes images per second, however many in flight.
  if (remote_.mean_request_bytes > 0)
    remote_rate = std::min(remote_rate, 1000.0 * bytes_per_ms(remote_.bandwidth_mbps) / remote_.mean_request_bytes);
  if (remote_.server_ms > 0) remote_rate = std::min(remote_rate, 1000.0 * remote_.server_workers / remote_.server_ms);
  h.remote_rate = remote_rate;
  const size_t images = request_bytes.size();
  if (images == 0 || h.local_rate + h.remote_rate <= 0) return h;

  // The run's own schedule, played out in the run's order: whichever worker
  // is free next takes the next image, unless client::leave_to_others says
  // the others would finish the rest first (judged on the paces the run's
  // workers know: their mean so far, else the expected one; the remote's
  // for the image at hand from its bytes). Rates alone
  // miss the tail, where the last image a slow side took decides the wall
  // time, and which images those are: a remote request takes
  // remote_ms(its bytes), and with C in flight at least C times its share
  // of the link and of the server. Which image the remote takes next hangs
  // on the local side's exact pace (at 1 Mbit/s, one image later can mean
  // 5 s instead of 0.5), and that pace swings by 10-20 % here: so the
  // schedule is played out at paces spread over that range, and the median
  // taken, the run to expect (a mean would count the rare pace at which
  // the remote catches the 1.4 MB photo and finishes seconds after the
  // rest).
  struct Slot {
    bool local;
    double expected_ms;
    double free_at = 0, done_ms = 0;
    size_t done = 0;
    bool retired = false;
    double pace() const { return done > 0 ? done_ms / static_cast<double>(done) : expected_ms; }
  };
  const double in_flight = remote_.concurrency;
  const auto play = [&](double local_pace_ms, double& wall_ms, size_t& local_images) {
    std::vector<Slot> slots;
    if (h.local_rate > 0)
      for (int i = 0; i < local_.workers; ++i) slots.push_back({true, local_ms});
    if (h.remote_rate > 0)
      for (int i = 0; i < remote_.concurrency; ++i) slots.push_back({false, hybrid_remote_ms()});
    wall_ms = 0;
    local_images = 0;
    for (size_t next = 0; next < images;) {
      // The slot free first; of two free at once the local one (the faster, in every lab run).
      Slot* s = nullptr;
      for (Slot& c : slots)
        if (!c.retired && (s == nullptr || c.free_at < s->free_at || (c.free_at == s->free_at && c.local && !s->local)))
          s = &c;
      std::vector<client::OtherWorker> others;
      for (const Slot& o : slots)
        if (&o != s && !o.retired) others.push_back({o.pace(), std::max(0.0, o.free_at - s->free_at)});
      // The remote judges the image at hand by its bytes, as the run's does (client::WorkerSlot).
      const double mine = s->local ? s->pace() : slowdown * remote_ms(request_bytes[next]);
      if (client::leave_to_others(mine, others, images - next)) {
        s->retired = true;
        continue;
      }
      const double bytes = request_bytes[next++];
      double took = local_pace_ms;
      if (!s->local) {
        took = slowdown * remote_ms(bytes);
        took = std::max(took, in_flight * bytes / bytes_per_ms(remote_.bandwidth_mbps));
        if (remote_.server_ms > 0) took = std::max(took, in_flight * remote_.server_ms / remote_.server_workers);
      }
      s->free_at += took;
      s->done_ms += took;
      ++s->done;
      wall_ms = std::max(wall_ms, s->free_at);
      local_images += s->local ? 1 : 0;
    }
  };
  constexpr double kPaces[] = {0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15};
  std::vector<double> walls, shares;
  for (const double pace : kPaces) {
    double wall_ms = 0;
    size_t local_images = 0;
    play(pace * local_ms, wall_ms, local_images);
    walls.push_back(wall_ms);
    shares.push_back(static_cast<double>(local_images) / static_cast<double>(images));
  }
  const auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  h.wall_s = median(walls) / 1000.0;
  h.local_share = median(shares);
  return h;
}

std::string CostModel::verdict() const {
  const double here = local_.ms_per_image;
  const double there = remote_ms_at(remote_.bandwidth_mbps, remote_.rtt_ms);
  const std::string link = fmt("%.3g Mbit/s", remote_.bandwidth_mbps) + " and " + fmt("%.1f ms", remote_.rtt_ms) + " RTT";
  const std::optional<double> bw = break_even_bandwidth_mbps();
  if (there < here) {
    std::string s = "Offload: at " + link + " the remote takes " + fmt("%.1f", there) + " ms per image against " +
                    fmt("%.1f", here) + " ms here (" + fmt("%.2g", here / there) + "x faster)";
    if (bw) s += "; it stops paying below " + fmt("%.3g", *bw) + " Mbit/s";
    return s + ".";
  }
  std::string s = "Run locally: at " + link + " the remote takes " + fmt("%.1f", there) + " ms per image against " +
                  fmt("%.1f", here) + " ms here";
  if (bw)
    s += "; it would pay above " + fmt("%.3g", *bw) + " Mbit/s";
  else
    s += "; no bandwidth makes it pay, since the round trip and the remote's compute alone take " +
         fmt("%.1f", fixed_ms()) + " ms";
  return s + ".";
}

wire::OffloadSummary CostModel::summary(const std::string& collection, size_t images, double mean_file_bytes) const {
  wire::OffloadSummary s;
  s.collection = collection;
  s.images = images;
  s.mean_file_bytes = mean_file_bytes;
  s.local.ms_per_image = local_.ms_per_image;
  s.local.workers = local_.workers;
  if (local_.hybrid_ms_per_image > 0) s.local.hybrid_ms_per_image = local_.hybrid_ms_per_image;
  s.remote = {remote_.url,
              remote_.rtt_ms,
              remote_.overhead_ms,
              remote_.bandwidth_mbps,
              remote_.mean_request_bytes,
              remote_.mean_response_bytes,
              remote_.server_ms,
              remote_.fit_r2,
              remote_ms_at(remote_.bandwidth_mbps, remote_.rtt_ms),
              remote_.concurrency,
              remote_.server_workers,
              remote_.hybrid_slowdown,
              std::nullopt};
  if (remote_.prepare_ms > 0) s.remote.prepare_ms = remote_.prepare_ms;
  s.model = {fixed_ms(), bytes_per_image()};
  s.break_even = {break_even_bandwidth_mbps(), break_even_rtt_ms()};
  s.verdict = verdict();
  return s;
}

CostModel CostModel::from_summary(const wire::OffloadSummary& s) {
  LocalProfile local{s.local.ms_per_image, s.local.workers, s.local.hybrid_ms_per_image.value_or(0)};
  const wire::OffloadSummary::Remote& r = s.remote;
  const RemoteProfile remote{r.url,        r.rtt_ms,          r.overhead_ms,         r.bandwidth_mbps,
                             r.mean_request_bytes, r.mean_response_bytes, r.server_ms, r.fit_r2,
                             r.workers,    r.server_workers, r.hybrid_slowdown.value_or(1), r.prepare_ms.value_or(0)};
  return CostModel(local, remote);
}

}  // namespace lookout::offload
