// offload.json, the offload summary: what `lookout offload` measured on both
// sides, the cost model it fitted, its verdict, and the runs that checked
// the prediction. `lookout offload --json` writes it; `lookout report` reads
// it. The field meanings are the cost model's (offload/cost_model.h), which
// fills this struct and can be rebuilt from it; wire/ cannot name those
// types (offload/ sits above it), so the fields are spelled out here.
//
// Written in this order, durations by the wire rounding rule (wire/number.h:
// milliseconds to three decimals; seconds likewise to the microsecond);
// rates, byte means and fractions as computed. Read strictly: a missing or
// mistyped field throws FormatError naming it ("remote": "bandwidth_mbps" is
// missing). Optional parts are the ones `lookout offload` leaves out: the
// measured side of "hybrid" and "measured" without the validation runs
// (--no-validate).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "wire/detection.h"

namespace lookout::wire {

struct OffloadSummary {
  struct Local {
    double ms_per_image = 0;  // one detector
    int workers = 1;          // detectors of the hybrid run
    // One detector while requests go out beside it (absent: not measured).
    std::optional<double> hybrid_ms_per_image;
  };
  struct Remote {
    std::string url;
    double rtt_ms = 0, overhead_ms = 0;
    double bandwidth_mbps = 0;
    double mean_request_bytes = 0, mean_response_bytes = 0;
    double server_ms = 0;
    double fit_r2 = 0;
    double ms_per_image = 0;  // T_remote at the measured link
    int workers = 1;          // requests in flight in the hybrid run
    int server_workers = 1;   // detectors on the server
    // Round trips beside a local detector over round trips alone (absent: not measured).
    std::optional<double> hybrid_slowdown;
    // This side's work per request before sending (downscaling; absent: none).
    std::optional<double> prepare_ms;
  };
  // T_remote = fixed_ms + bytes_per_image / bandwidth.
  struct Model {
    double fixed_ms = 0, bytes_per_image = 0;
  };
  // null in the file: no bandwidth (RTT) makes offloading pay.
  struct BreakEven {
    std::optional<double> bandwidth_mbps, rtt_ms;
  };
  struct Hybrid {
    double predicted_s = 0, predicted_local_share = 0;
    // From the hybrid validation run.
    std::optional<double> measured_s;
    std::optional<size_t> local_images, remote_images;
  };
  // A validation run that crossed the link.
  struct Run {
    std::string label;
    double bandwidth_mbps = 0, rtt_ms = 0;
    double ms_per_image = 0, predicted_ms_per_image = 0;
  };
  // The validation runs, whole collection.
  struct Measured {
    double local_ms_per_image = 0, remote_ms_per_image = 0;
    double local_wall_s = 0, remote_wall_s = 0, hybrid_wall_s = 0;
    bool agrees_with_verdict = false;
    // The local run once more after the others (0: not measured, as in
    // files from before it was): how far the machine's own speed moved
    // within the cell, against which T_local's error can be read.
    double local_again_ms_per_image = 0;
  };

  std::string collection;
  size_t images = 0;
  double mean_file_bytes = 0;
  Local local;
  Remote remote;
  Model model;
  BreakEven break_even;
  std::string verdict;
  Hybrid hybrid;
  std::vector<Run> runs;
  std::optional<Measured> measured;
};

void to_json(Json& j, const OffloadSummary::Local& v);
void to_json(Json& j, const OffloadSummary::Remote& v);
void to_json(Json& j, const OffloadSummary::Model& v);
void to_json(Json& j, const OffloadSummary::BreakEven& v);
void to_json(Json& j, const OffloadSummary::Hybrid& v);
void to_json(Json& j, const OffloadSummary::Run& v);
void to_json(Json& j, const OffloadSummary::Measured& v);
void to_json(Json& j, const OffloadSummary& v);

void from_json(const Json& j, OffloadSummary::Local& v);
void from_json(const Json& j, OffloadSummary::Remote& v);
void from_json(const Json& j, OffloadSummary::Model& v);
void from_json(const Json& j, OffloadSummary::BreakEven& v);
void from_json(const Json& j, OffloadSummary::Hybrid& v);
void from_json(const Json& j, OffloadSummary::Run& v);
void from_json(const Json& j, OffloadSummary::Measured& v);
void from_json(const Json& j, OffloadSummary& v);

// The file's text: two-space indents, a newline at the end.
std::string offload_text(const OffloadSummary& v);

// True for a document that claims to be an offload summary (it has "model"
// or "verdict"), as opposed to a results line.
bool looks_like_offload(const Json& doc);

}  // namespace lookout::wire
