#include "wire/offload.h"

#include <cmath>

#include "wire/fields.h"
#include "wire/number.h"

namespace lookout::wire {

namespace {

using fields::optional;
using fields::require_object;
using fields::required;
using fields::value_or;

// Seconds to the microsecond, as ms() rounds milliseconds.
double seconds(double v) { return std::round(v * 1e6) / 1e6; }

Json nullable_ms(const std::optional<double>& v) { return v ? Json(ms(*v)) : Json(nullptr); }

}  // namespace

void to_json(Json& j, const OffloadSummary::Local& v) {
  j = {{"ms_per_image", ms(v.ms_per_image)}, {"workers", v.workers}};
  if (v.hybrid_ms_per_image) j["hybrid_ms_per_image"] = ms(*v.hybrid_ms_per_image);
}

void to_json(Json& j, const OffloadSummary::Remote& v) {
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
  if (v.hybrid_slowdown) j["hybrid_slowdown"] = *v.hybrid_slowdown;
  if (v.prepare_ms) j["prepare_ms"] = ms(*v.prepare_ms);
}

void to_json(Json& j, const OffloadSummary::Model& v) {
  j = {{"fixed_ms", ms(v.fixed_ms)}, {"bytes_per_image", v.bytes_per_image}};
}

void to_json(Json& j, const OffloadSummary::BreakEven& v) {
  j = {{"bandwidth_mbps", v.bandwidth_mbps ? Json(*v.bandwidth_mbps) : Json(nullptr)},
       {"rtt_ms", nullable_ms(v.rtt_ms)}};
}

void to_json(Json& j, const OffloadSummary::Hybrid& v) {
  j = {{"predicted_s", seconds(v.predicted_s)}, {"predicted_local_share", v.predicted_local_share}};
  if (v.measured_s) j["measured_s"] = seconds(*v.measured_s);
  if (v.local_images) j["local_images"] = *v.local_images;
  if (v.remote_images) j["remote_images"] = *v.remote_images;
}

void to_json(Json& j, const OffloadSummary::Run& v) {
  j = {{"label", v.label},
       {"bandwidth_mbps", v.bandwidth_mbps},
       {"rtt_ms", ms(v.rtt_ms)},
       {"ms_per_image", ms(v.ms_per_image)},
       {"predicted_ms_per_image", ms(v.predicted_ms_per_image)}};
}

void to_json(Json& j, const OffloadSummary::Measured& v) {
  j = {{"local_ms_per_image", ms(v.local_ms_per_image)},
       {"remote_ms_per_image", ms(v.remote_ms_per_image)},
       {"local_wall_s", seconds(v.local_wall_s)},
       {"remote_wall_s", seconds(v.remote_wall_s)},
       {"hybrid_wall_s", seconds(v.hybrid_wall_s)},
       {"agrees_with_verdict", v.agrees_with_verdict}};
  if (v.local_again_ms_per_image > 0) j["local_again_ms_per_image"] = ms(v.local_again_ms_per_image);
}

void to_json(Json& j, const OffloadSummary& v) {
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

void from_json(const Json& j, OffloadSummary::Local& v) {
  require_object(j, "local");
  v.ms_per_image = required<double>(j, "ms_per_image");
  v.workers = required<int>(j, "workers");
  v.hybrid_ms_per_image = optional<double>(j, "hybrid_ms_per_image");
}

void from_json(const Json& j, OffloadSummary::Remote& v) {
  require_object(j, "remote");
  v.url = required<std::string>(j, "url");
  v.rtt_ms = required<double>(j, "rtt_ms");
  v.overhead_ms = required<double>(j, "overhead_ms");
  v.bandwidth_mbps = required<double>(j, "bandwidth_mbps");
  v.mean_request_bytes = required<double>(j, "mean_request_bytes");
  v.mean_response_bytes = required<double>(j, "mean_response_bytes");
  v.server_ms = required<double>(j, "server_ms");
  v.fit_r2 = required<double>(j, "fit_r2");
  v.ms_per_image = required<double>(j, "ms_per_image");
  v.workers = required<int>(j, "workers");
  v.server_workers = required<int>(j, "server_workers");
  v.hybrid_slowdown = optional<double>(j, "hybrid_slowdown");
  v.prepare_ms = optional<double>(j, "prepare_ms");
}

void from_json(const Json& j, OffloadSummary::Model& v) {
  require_object(j, "model");
  v.fixed_ms = required<double>(j, "fixed_ms");
  v.bytes_per_image = required<double>(j, "bytes_per_image");
}

void from_json(const Json& j, OffloadSummary::BreakEven& v) {
  require_object(j, "break_even");
  v.bandwidth_mbps = optional<double>(j, "bandwidth_mbps");
  v.rtt_ms = optional<double>(j, "rtt_ms");
}

void from_json(const Json& j, OffloadSummary::Hybrid& v) {
  require_object(j, "hybrid");
  v.predicted_s = required<double>(j, "predicted_s");
  v.predicted_local_share = required<double>(j, "predicted_local_share");
  v.measured_s = optional<double>(j, "measured_s");
  v.local_images = optional<size_t>(j, "local_images");
  v.remote_images = optional<size_t>(j, "remote_images");
}

void from_json(const Json& j, OffloadSummary::Run& v) {
  require_object(j, "a run");
  v.label = required<std::string>(j, "label");
  v.bandwidth_mbps = required<double>(j, "bandwidth_mbps");
  v.rtt_ms = required<double>(j, "rtt_ms");
  v.ms_per_image = required<double>(j, "ms_per_image");
  v.predicted_ms_per_image = required<double>(j, "predicted_ms_per_image");
}

void from_json(const Json& j, OffloadSummary::Measured& v) {
  require_object(j, "measured");
  v.local_ms_per_image = required<double>(j, "local_ms_per_image");
  v.remote_ms_per_image = required<double>(j, "remote_ms_per_image");
  v.local_wall_s = required<double>(j, "local_wall_s");
  v.remote_wall_s = required<double>(j, "remote_wall_s");
  v.hybrid_wall_s = required<double>(j, "hybrid_wall_s");
  v.agrees_with_verdict = required<bool>(j, "agrees_with_verdict");
  v.local_again_ms_per_image = value_or<double>(j, "local_again_ms_per_image", 0.0);
}

void from_json(const Json& j, OffloadSummary& v) {
  require_object(j, "an offload summary");
  v.collection = required<std::string>(j, "collection");
  v.images = required<size_t>(j, "images");
  v.mean_file_bytes = required<double>(j, "mean_file_bytes");
  v.local = required<OffloadSummary::Local>(j, "local");
  v.remote = required<OffloadSummary::Remote>(j, "remote");
  v.model = required<OffloadSummary::Model>(j, "model");
  v.break_even = required<OffloadSummary::BreakEven>(j, "break_even");
  v.verdict = required<std::string>(j, "verdict");
  v.hybrid = required<OffloadSummary::Hybrid>(j, "hybrid");
  v.runs = required<std::vector<OffloadSummary::Run>>(j, "runs");
  // Read by hand: clang rejects nlohmann's get<Measured>() here (its
  // from_json trait for this type resolves before the hook is seen).
  if (const auto it = j.find("measured"); it != j.end() && !it->is_null()) {
    OffloadSummary::Measured measured;
    try {
      from_json(*it, measured);
    } catch (const FormatError& e) {
      throw FormatError(std::string("\"measured\": ") + e.what());
    }
    v.measured = measured;
  } else {
    v.measured.reset();
  }
}

std::string offload_text(const OffloadSummary& v) { return Json(v).dump(2) + "\n"; }

bool looks_like_offload(const Json& doc) {
  return doc.is_object() && (doc.contains("model") || doc.contains("verdict"));
}

}  // namespace lookout::wire
