// One image sent to one target by `lookout run`: what was sent, how long
// each part took, what came back. The results file holds one Record per
// line (README "Results file"); `lookout run` reads them back to resume,
// `lookout report` and `lookout offload` to aggregate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/detection.h"

namespace lookout::wire {

// Milliseconds; every stage is written, 0 where a target has none (a local
// target has upload = 0 and queue = the wait for a detector).
struct RecordTimes {
  double upload = 0;       // client side: request start until the server's kernel acknowledged the last byte
  double queue = 0;        // server: waiting for a detector
  double decode = 0, preprocess = 0, inference = 0, postprocess = 0;
  double round_trip = 0;   // client side: request start until the answer is read (local: = total)
  double total = 0;        // what a user waits per image: remote = prepare + round_trip, local = the detector's stages
  double prepare = 0;      // client side, before the request: downscale and re-encode (--resize-before-upload); 0: none
  bool operator==(const RecordTimes&) const = default;
};

struct Record {
  std::string image;         // path relative to the collection directory
  std::string collection;    // the collection directory's name
  std::string target;        // "local" or the URL
  std::string schedule;      // local | remote | hybrid | scale-out: what the whole run was
  std::string label;         // the user's name for the run (`lookout run --label`), e.g. the link setting; may be ""
  bool ok = false;
  int status = 0;            // HTTP status (local: 200 or 400 for a bad image); 0 = no answer
  std::string error;         // why, when !ok
  bool permanent = false;    // a failure a retry cannot fix (bad image, 4xx): a rerun skips it
  uint64_t file_bytes = 0;   // the file on disk
  uint64_t bytes_sent = 0;   // request body sent (after --resize-before-upload)
  uint64_t response_bytes = 0;
  int width = 0, height = 0; // the original image, upright
  RecordTimes timing;
  std::vector<Detection> detections;  // normalized boxes only (box_px absent)
  int attempts = 0;
  std::string finished_at;   // UTC, ISO 8601 with milliseconds

  // Done = nothing left to try: succeeded, or failed for good.
  bool done() const { return ok || permanent; }
  // A remote upload re-encoded before sending (--resize-before-upload).
  bool resized() const { return target != "local" && bytes_sent > 0 && bytes_sent < file_bytes; }
  bool operator==(const Record&) const = default;
};

void to_json(Json& j, const RecordTimes& t);
void to_json(Json& j, const Record& r);
// The one reader of results lines. Required: "image" and "target"
// (non-empty strings), "ok" (true/false), and "timing_ms" (an object) when
// ok; other fields that are missing or of another type read as empty or 0,
// and so do counts and sizes that are negative or absurd (a hand-edited -1
// or 1e300 is not converted). Throws FormatError with the reason.
void from_json(const Json& j, Record& r);

}  // namespace lookout::wire
