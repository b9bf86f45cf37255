#include "wire/record.h"

#include "wire/number.h"

namespace lookout::wire {

namespace {

// Results files are edited and merged by hand, so a field of the wrong type
// reads as empty rather than refusing the whole line.
double number(const Json& o, const char* k) { return o.contains(k) && o[k].is_number() ? o[k].get<double>() : 0.0; }
// A count or size: a non-negative number up to `max`, else 0.
double count(const Json& o, const char* k, double max) {
  const double v = number(o, k);
  return v >= 0 && v <= max ? v : 0.0;
}
std::string text(const Json& o, const char* k) { return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : ""; }

// Records keep normalized boxes only; a detection that cannot be read
// contributes what it has.
Detection lenient_detection(const Json& d) {
  Detection out;
  out.class_id = static_cast<int>(count(d, "class_id", 1e9));
  out.label = text(d, "label");
  out.score = static_cast<float>(number(d, "score"));
  if (d.contains("box") && d["box"].is_object()) {
    const Json& b = d["box"];
    out.box = {static_cast<float>(number(b, "xmin")), static_cast<float>(number(b, "ymin")),
               static_cast<float>(number(b, "xmax")), static_cast<float>(number(b, "ymax"))};
  }
  return out;
}

}  // namespace

void to_json(Json& j, const RecordTimes& t) {
  j = Json{{"upload", ms(t.upload)},   {"queue", ms(t.queue)},           {"decode", ms(t.decode)},
           {"preprocess", ms(t.preprocess)}, {"inference", ms(t.inference)}, {"postprocess", ms(t.postprocess)},
           {"round_trip", ms(t.round_trip)}, {"total", ms(t.total)}};
  // Only where there was any (downscaled uploads), so other records read as before.
  if (t.prepare > 0) j["prepare"] = ms(t.prepare);
}

void to_json(Json& j, const Record& r) {
  Json dets = Json::array();
  for (Detection d : r.detections) {
    d.box_px.reset();
    dets.push_back(d);
  }
  j = Json{{"image", r.image},
           {"collection", r.collection},
           {"target", r.target},
           {"schedule", r.schedule},
           {"label", r.label},
           {"ok", r.ok},
           {"status", r.status},
           {"error", r.ok ? Json(nullptr) : Json(r.error)},
           {"permanent", r.permanent},
           {"file_bytes", r.file_bytes},
           {"bytes_sent", r.bytes_sent},
           {"response_bytes", r.response_bytes},
           {"width", r.width},
           {"height", r.height},
           {"timing_ms", r.timing},
           {"detections", std::move(dets)},
           {"attempts", r.attempts},
           {"finished_at", r.finished_at}};
}

void from_json(const Json& j, Record& r) {
  if (!j.is_object()) throw FormatError("not a JSON object");
  for (const char* key : {"image", "target"})
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      throw FormatError(std::string("no \"") + key + "\" string");
  if (!j.contains("ok") || !j["ok"].is_boolean()) throw FormatError("no \"ok\" true/false");
  if (j["ok"].get<bool>() && !(j.contains("timing_ms") && j["timing_ms"].is_object()))
    throw FormatError("a successful record without \"timing_ms\"");
  r = Record{};
  r.image = j["image"].get<std::string>();
  r.collection = text(j, "collection");
  r.target = text(j, "target");
  r.schedule = text(j, "schedule");
  r.label = text(j, "label");
  r.ok = j["ok"].get<bool>();
  r.status = static_cast<int>(count(j, "status", 999));
  r.error = text(j, "error");
  r.permanent = j.contains("permanent") && j["permanent"].is_boolean() && j["permanent"].get<bool>();
  r.file_bytes = static_cast<uint64_t>(count(j, "file_bytes", 1e18));
  r.bytes_sent = static_cast<uint64_t>(count(j, "bytes_sent", 1e18));
  r.response_bytes = static_cast<uint64_t>(count(j, "response_bytes", 1e18));
  r.width = static_cast<int>(count(j, "width", 1e9));
  r.height = static_cast<int>(count(j, "height", 1e9));
  if (j.contains("timing_ms") && j["timing_ms"].is_object()) {
    const Json& t = j["timing_ms"];
    r.timing = {number(t, "upload"),    number(t, "queue"),       number(t, "decode"),     number(t, "preprocess"),
                number(t, "inference"), number(t, "postprocess"), number(t, "round_trip"), number(t, "total"),
                number(t, "prepare")};
  }
  if (j.contains("detections") && j["detections"].is_array())
    for (const Json& d : j["detections"]) r.detections.push_back(lenient_detection(d));
  r.attempts = static_cast<int>(count(j, "attempts", 1e9));
  r.finished_at = text(j, "finished_at");
}

}  // namespace lookout::wire
