#include "wire/offload.h"

#include <cmath>

#include "wire/field.h"
#include "wire/number.h"

namespace lookout::wire {

namespace {

using ojson = nlohmann::ordered_json;

// Seconds to the microsecond, as ms() rounds milliseconds.
double seconds(double v) { return std::round(v * 1e6) / 1e6; }

ojson nullable_ms(const std::optional<double>& v) { return v ? ojson(ms(*v)) : ojson(nullptr); }

}  // namespace

void to_json(ojson& j, const OffloadSummary::Local& v) {
  j = {{"ms_per_image", ms(v.ms_per_image)}, {"workers", v.workers}};
}

void to_json(ojson& j, const OffloadSummary::Remote& v) {
  j = {{"url", v.url},
       {"rtt_ms", ms(v.rtt_ms)},
       {"overhead_ms", ms(v.overhead_ms)},
       {"bandwidth_mbps", v.bandwidth_mbps},
       {"mean_request_bytes", v.mean_request_bytes},
       {"mean_response_bytes", v.mean_response_bytes},
       {"server_ms", ms(v.server_ms)},
       {"fit_r2", v.fit_r2},
       {"ms_per_image", ms(v.ms_per_image)},
       {"workers", v.workers},
       {"server_workers", v.server_workers}};
}

void to_json(ojson& j, const OffloadSummary::Model& v) {
  j = {{"fixed_ms", ms(v.fixed_ms)}, {"bytes_per_image", v.bytes_per_image}};
}

void to_json(ojson& j, const OffloadSummary::BreakEven& v) {
  j = {{"bandwidth_mbps", v.bandwidth_mbps ? ojson(*v.bandwidth_mbps) : ojson(nullptr)},
       {"rtt_ms", nullable_ms(v.rtt_ms)}};
}

void to_json(ojson& j, const OffloadSummary::Hybrid& v) {
  j = {{"predicted_s", seconds(v.predicted_s)}, {"predicted_local_share", v.predicted_local_share}};
  if (v.measured_s) j["measured_s"] = seconds(*v.measured_s);
  if (v.local_images) j["local_images"] = *v.local_images;
  if (v.remote_images) j["remote_images"] = *v.remote_images;
}

void to_json(ojson& j, const OffloadSummary::Run& v) {
  j = {{"label", v.label},
       {"bandwidth_mbps", v.bandwidth_mbps},
       {"rtt_ms", ms(v.rtt_ms)},
       {"ms_per_image", ms(v.ms_per_image)},
       {"predicted_ms_per_image", ms(v.predicted_ms_per_image)}};
}

void to_json(ojson& j, const OffloadSummary::Measured& v) {
  j = {{"local_ms_per_image", ms(v.local_ms_per_image)},
       {"remote_ms_per_image", ms(v.remote_ms_per_image)},
       {"local_wall_s", seconds(v.local_wall_s)},
       {"remote_wall_s", seconds(v.remote_wall_s)},
       {"hybrid_wall_s", seconds(v.hybrid_wall_s)},
       {"agrees_with_verdict", v.agrees_with_verdict}};
}

void to_json(ojson& j, const OffloadSummary& v) {
  j = {{"collection", v.collection},
       {"images", v.images},
       {"mean_file_bytes", v.mean_file_bytes},
       {"local", v.local},
       {"remote", v.remote},
       {"model", v.model},
       {"break_even", v.break_even},
       {"verdict", v.verdict},
       {"hybrid", v.hybrid},
       {"runs", v.runs}};
  if (v.measured) j["measured"] = *v.measured;
}

void from_json(const nlohmann::json& j, OffloadSummary::Local& v) {
  expect_object(j);
  read(j, "ms_per_image", v.ms_per_image);
  read(j, "workers", v.workers);
}

void from_json(const nlohmann::json& j, OffloadSummary::Remote& v) {
  expect_object(j);
  read(j, "url", v.url);
  read(j, "rtt_ms", v.rtt_ms);
  read(j, "overhead_ms", v.overhead_ms);
  read(j, "bandwidth_mbps", v.bandwidth_mbps);
  read(j, "mean_request_bytes", v.mean_request_bytes);
  read(j, "mean_response_bytes", v.mean_response_bytes);
  read(j, "server_ms", v.server_ms);
  read(j, "fit_r2", v.fit_r2);
  read(j, "ms_per_image", v.ms_per_image);
  read(j, "workers", v.workers);
  read(j, "server_workers", v.server_workers);
}

void from_json(const nlohmann::json& j, OffloadSummary::Model& v) {
  expect_object(j);
  read(j, "fixed_ms", v.fixed_ms);
  read(j, "bytes_per_image", v.bytes_per_image);
}

void from_json(const nlohmann::json& j, OffloadSummary::BreakEven& v) {
  expect_object(j);
  read(j, "bandwidth_mbps", v.bandwidth_mbps);
  read(j, "rtt_ms", v.rtt_ms);
}

void from_json(const nlohmann::json& j, OffloadSummary::Hybrid& v) {
  expect_object(j);
  read(j, "predicted_s", v.predicted_s);
  read(j, "predicted_local_share", v.predicted_local_share);
  read_if_present(j, "measured_s", v.measured_s);
  read_if_present(j, "local_images", v.local_images);
  read_if_present(j, "remote_images", v.remote_images);
}

void from_json(const nlohmann::json& j, OffloadSummary::Run& v) {
  expect_object(j);
  read(j, "label", v.label);
  read(j, "bandwidth_mbps", v.bandwidth_mbps);
  read(j, "rtt_ms", v.rtt_ms);
  read(j, "ms_per_image", v.ms_per_image);
  read(j, "predicted_ms_per_image", v.predicted_ms_per_image);
}

void from_json(const nlohmann::json& j, OffloadSummary::Measured& v) {
  expect_object(j);
  read(j, "local_ms_per_image", v.local_ms_per_image);
  read(j, "remote_ms_per_image", v.remote_ms_per_image);
  read(j, "local_wall_s", v.local_wall_s);
  read(j, "remote_wall_s", v.remote_wall_s);
  read(j, "hybrid_wall_s", v.hybrid_wall_s);
  read(j, "agrees_with_verdict", v.agrees_with_verdict);
}

void from_json(const nlohmann::json& j, OffloadSummary& v) {
  expect_object(j);
  read(j, "collection", v.collection);
  read(j, "images", v.images);
  read(j, "mean_file_bytes", v.mean_file_bytes);
  read(j, "local", v.local);
  read(j, "remote", v.remote);
  read(j, "model", v.model);
  read(j, "break_even", v.break_even);
  read(j, "verdict", v.verdict);
  read(j, "hybrid", v.hybrid);
  read(j, "runs", v.runs);
  read_if_present(j, "measured", v.measured);
}

std::string offload_text(const OffloadSummary& v) { return ojson(v).dump(2) + "\n"; }

bool looks_like_offload(const nlohmann::json& doc) {
  return doc.is_object() && (doc.contains("model") || doc.contains("verdict"));
}

}  // namespace lookout::wire
