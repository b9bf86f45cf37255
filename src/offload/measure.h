// Taking the cost model's measurements from real work: local detections and
// real requests to the remote on a sample of the collection that spans its
// file sizes (the link fit needs small and large images).
#pragma once

#include <vector>

#include "client/run.h"
#include "offload/cost_model.h"

namespace lookout::offload {

// `n` jobs spread evenly over the collection sorted by file size (all of
// them when there are no more than n).
std::vector<client::ImageFile> size_spread_sample(const std::vector<client::ImageFile>& jobs, size_t n);

// Each job's file size in bytes, in the jobs' order (0 when unreadable).
std::vector<double> file_bytes(const std::vector<client::ImageFile>& jobs);

// Mean file size of the jobs, in bytes.
double mean_file_bytes(const std::vector<client::ImageFile>& jobs);

// The sample's records: every local try (their mean is what a run sees,
// swings and all), and per remote image the try with the median round trip
// (a burst of load elsewhere lands in one round and is outvoted).
// local_beside and remote_beside: both sides at once, as in the hybrid run
// (remote_beside[j] is sample image j % sample size). link_probe: the
// sample sent as is when the remote ones were downscaled (probe_link).
struct SampleRecords {
  std::vector<wire::Record> local, remote;
  std::vector<wire::Record> local_beside, remote_beside;
  std::vector<wire::Record> link_probe;
};

// Passes of the sample through the remote (at least `rounds`, for at
// least 1.5 s), one image at a time after a warm-up; then both sides at
// once for 3 s (at least one remote request); then through the local
// worker alone (at least `rounds`, for at least 3 s), after a warm-up.
SampleRecords time_sample(client::Worker& local, client::Worker& remote, const std::vector<client::ImageFile>& sample,
                          int rounds);

// The sample's images sent as they are (once, or up to `rounds` times
// within 1.5 s), the median round trip per image: downscaled uploads are
// all about the same size, too alike to fit the link's bandwidth on (at
// 1 Gbit/s they differ by well under a millisecond), so the fit takes
// these beside them.
std::vector<wire::Record> probe_link(client::Worker& as_is, const std::vector<client::ImageFile>& sample, int rounds);

// The local profile from the sample. Throws std::runtime_error when no
// image could be processed.
LocalProfile local_profile(const SampleRecords& timed, int workers);

// RTT (GET /healthz), the link fit and the server's time from remote sample
// records, the server's worker count from /api/model. Throws
// std::runtime_error with the reason when the remote cannot be measured.
RemoteProfile remote_profile(const client::TargetSpec& target, const client::HttpOptions& http,
                             const SampleRecords& timed, double mean_request_bytes, int concurrency);

}  // namespace lookout::offload
