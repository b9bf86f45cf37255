// Is it worth sending images to a remote machine? The cost model, fitted to
// real requests:
//
//   T_local  = decode + preprocess + inference + postprocess   (this machine)
//   T_remote = prepare + RTT + overhead + (request + response bytes) / bandwidth + server
//
// where server = queue + decode + preprocess + inference + postprocess as the
// server reports them, RTT comes from small requests (GET /healthz), and
// bandwidth and overhead from a least-squares fit of (round trip - server)
// against bytes over requests of different sizes. Everything here is plain
// arithmetic on measurements (measure.h takes them).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "client/record.h"
#include "wire/offload.h"

namespace lookout::offload {

// y = intercept + slope * x by least squares.
struct LineFit {
  double intercept = 0, slope = 0;
  double r2 = 0;       // 1 = every point on the line
  size_t points = 0;
};
// Throws std::invalid_argument for fewer than two points or no spread in x.
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

struct LocalProfile {
  double ms_per_image = 0;   // mean detector time per image, one worker
  int workers = 1;           // detectors used in parallel by the hybrid run
  // The same while requests go out to the remote (the hybrid run's local
  // side); 0: not measured, ms_per_image stands for it.
  double hybrid_ms_per_image = 0;
};

struct RemoteProfile {
  std::string url;
  double rtt_ms = 0;              // median GET /healthz round trip
  double overhead_ms = 0;         // fit intercept - RTT: per-request cost beyond the round trip
  double bandwidth_mbps = 0;      // from the fit's slope (megabits per second)
  double mean_request_bytes = 0;  // over the collection (body as sent)
  double mean_response_bytes = 0;
  double server_ms = 0;           // mean queue + decode + preprocess + inference + postprocess
  double fit_r2 = 0;
  int concurrency = 1;            // requests in flight during the hybrid run
  int server_workers = 1;         // detectors on the server (/api/model "workers")
  // Remote times (downscale + round trip) while a local detector runs beside
  // them over the same alone (the hybrid run's remote side; 1: no slowdown
  // or not measured).
  double hybrid_slowdown = 1;
  // This side's own work per request before sending (downscale and
  // re-encode with --resize-before-upload; 0 without): part of T_remote.
  double prepare_ms = 0;
};

// Measured per-image figures of a whole run, to compare with the prediction.
struct RunMeasurement {
  size_t images = 0;
  double ms_per_image = 0;  // mean total (remote: round trip) over ok records
  double wall_s = 0;
};

struct HybridPrediction {
  double wall_s = 0;
  double local_share = 0;   // fraction of images the local side takes
  double local_rate = 0;    // images/s
  double remote_rate = 0;
};

class CostModel {
 public:
  CostModel(LocalProfile local, RemoteProfile remote) : local_(std::move(local)), remote_(std::move(remote)) {}

  const LocalProfile& local() const { return local_; }
  const RemoteProfile& remote() const { return remote_; }

  // Fixed part of T_remote: prepare + RTT + overhead + server.
  double fixed_ms() const { return remote_.prepare_ms + remote_.rtt_ms + remote_.overhead_ms + remote_.server_ms; }
  double bytes_per_image() const { return remote_.mean_request_bytes + remote_.mean_response_bytes; }

  // T_remote for one image of `request_bytes`, at the measured link.
  double remote_ms(double request_bytes) const;
  // T_remote for the mean image at another link.
  double remote_ms_at(double bandwidth_mbps, double rtt_ms) const;

  // The bandwidth above which remote is faster per image (nullopt: no
  // bandwidth is enough, the fixed part alone exceeds T_local).
  std::optional<double> break_even_bandwidth_mbps() const;
  // The RTT below which remote is faster at the measured bandwidth (nullopt:
  // not even zero RTT is enough).
  std::optional<double> break_even_rtt_ms() const;

  // Local and remote workers pulling from one queue: each side's rate, the
  // remote one capped by the link (one request's bytes at a time) and the
  // server's detectors; the wall time and the local side's share for images
  // of `request_bytes`, in the order the run takes them, from playing the
  // shared queue out image by image.
  HybridPrediction hybrid(const std::vector<double>& request_bytes) const;
  // What the hybrid run's workers expect per image before they have done
  // one (client::WorkerSlot::expected_ms): each side as measured beside
  // the other.
  double hybrid_local_ms() const;
  double hybrid_remote_ms() const;  // for the mean request
  // Per request byte: hybrid_remote_ms() + this x (bytes - mean request
  // bytes) is a request of `bytes`.
  double hybrid_remote_ms_per_byte() const;

  bool remote_pays() const { return remote_ms_at(remote_.bandwidth_mbps, remote_.rtt_ms) < local_.ms_per_image; }
  // The verdict in one sentence.
  std::string verdict() const;

  // offload.json (wire/offload.h): profiles, model, break-even, verdict;
  // the caller adds the hybrid prediction and the validation runs.
  wire::OffloadSummary summary(const std::string& collection, size_t images, double mean_file_bytes) const;
  // The model an offload summary was written from.
  static CostModel from_summary(const wire::OffloadSummary& s);

 private:
  double remote_slowdown() const;  // hybrid_slowdown, 1 when not measured
  LocalProfile local_;
  RemoteProfile remote_;
};

// The link fitted from remote records (ok ones): y = round_trip - server
// time against x = bytes sent + received. Sets rtt-independent parts of
// `remote`: overhead (intercept - rtt_ms), bandwidth, fit_r2, server_ms.
// `link_probe`: more requests over the same link, for the slope only (the
// line goes through the records' mean; their server time is not the
// records'). Throws std::invalid_argument when the
// records cannot support a fit (too few, all the same size, or bytes not
// costing time: the message says).
void fit_remote(const std::vector<wire::Record>& records, RemoteProfile& remote,
                const std::vector<wire::Record>& link_probe = {});

double server_ms(const wire::Record& r);

// Mean of total (local) / round trip (remote) over ok records.
RunMeasurement measure_run(const std::vector<wire::Record>& records, double wall_s);

}  // namespace lookout::offload
