#include "wire/map.h"

#include <cstdio>

#include "wire/fields.h"
#include "wire/number.h"

namespace lookout::wire {

namespace {

using fields::require_object;
using fields::required;

// 0.25, 1, 1000: the settings as a person types them.
std::string shortest(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

}  // namespace

std::string MapFile::Cell::key() const {
  return "local " + shortest(pair.local_cpu) + " / remote " + shortest(pair.remote_cpu) + " cpu, " +
         shortest(bandwidth_mbps) + " Mbit/s, " + shortest(rtt_ms) + " ms RTT" +
         (resize_before_upload ? ", resized" : "");
}

void to_json(Json& j, const MapFile::Pair& v) {
  j = {{"local_cpu", v.local_cpu}, {"remote_cpu", v.remote_cpu}};
}

void to_json(Json& j, const MapFile::Cell& v) {
  j = {{"pair", v.pair},
       {"bandwidth_mbps", v.bandwidth_mbps},
       {"rtt_ms", ms(v.rtt_ms)},
       {"resize_before_upload", v.resize_before_upload},
       {"seconds", ms(v.seconds)},
       {"offload", v.offload}};
}

void to_json(Json& j, const MapFile& v) {
  j = {{"version", v.version}, {"collection", v.collection}, {"images", v.images},
       {"cpu", v.cpu},         {"created", v.created},       {"cells", v.cells}};
}

void from_json(const Json& j, MapFile::Pair& v) {
  require_object(j, "pair");
  v.local_cpu = required<double>(j, "local_cpu");
  v.remote_cpu = required<double>(j, "remote_cpu");
  if (!(v.local_cpu > 0) || !(v.remote_cpu > 0))
    throw FormatError("\"pair\": CPU quotas must be positive, not " + j.dump());
}

void from_json(const Json& j, MapFile::Cell& v) {
  require_object(j, "a cell");
  // Read by hand, as offload.cc reads "measured": clang rejects nlohmann's
  // get<T>() for these nested types.
  const auto nested = [&](const char* key, auto& out) {
    const auto it = j.find(key);
    if (it == j.end()) throw FormatError(std::string("\"") + key + "\" is missing");
    try {
      from_json(*it, out);
    } catch (const FormatError& e) {
      throw FormatError(std::string("\"") + key + "\": " + e.what());
    }
  };
  nested("pair", v.pair);
  v.bandwidth_mbps = required<double>(j, "bandwidth_mbps");
  v.rtt_ms = required<double>(j, "rtt_ms");
  v.resize_before_upload = required<bool>(j, "resize_before_upload");
  v.seconds = required<double>(j, "seconds");
  nested("offload", v.offload);
}

void from_json(const Json& j, MapFile& v) {
  require_object(j, "a map");
  v.version = required<int>(j, "version");
  if (v.version != 1) throw FormatError("\"version\": this lookout reads version 1, not " + std::to_string(v.version));
  v.collection = required<std::string>(j, "collection");
  v.images = required<size_t>(j, "images");
  v.cpu = required<std::string>(j, "cpu");
  v.created = required<std::string>(j, "created");
  const auto it = j.find("cells");
  if (it == j.end()) throw FormatError("\"cells\" is missing");
  if (!it->is_array()) throw FormatError(std::string("\"cells\" must be an array, not ") + it->type_name());
  v.cells.clear();
  for (size_t i = 0; i < it->size(); ++i) {
    MapFile::Cell cell;
    try {
      from_json((*it)[i], cell);
    } catch (const FormatError& e) {
      throw FormatError("\"cells\"[" + std::to_string(i) + "]: " + e.what());
    }
    v.cells.push_back(std::move(cell));
  }
}

std::string map_text(const MapFile& v) { return Json(v).dump(2) + "\n"; }

bool looks_like_map(const Json& doc) { return doc.is_object() && doc.contains("cells"); }

}  // namespace lookout::wire
