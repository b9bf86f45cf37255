// map.json, the offloading map: `lookout map` runs `lookout offload`'s
// measure-model-validate cycle once per cell of a grid (link bandwidth x
// RTT x machine pair, each with and without downscaling before upload) and
// writes every cell here, one after the other, so an interrupted sweep
// resumes where it stopped. `lookout report` draws it as heatmaps.
//
// A cell is keyed by its settings (Cell::key); its "offload" is the cell's
// whole offload summary (wire/offload.h), predicted and measured. Read
// strictly, as offload.json is: a missing or mistyped field throws
// FormatError naming it.
#pragma once

#include <string>
#include <vector>

#include "wire/offload.h"

namespace lookout::wire {

struct MapFile {
  // The two machines of a cell, as CPU quotas (cores' worth of time).
  struct Pair {
    double local_cpu = 1, remote_cpu = 1;
  };
  struct Cell {
    Pair pair;
    double bandwidth_mbps = 0;  // the link as set (tc rate, each way)
    double rtt_ms = 0;          // the round trip as set
    bool resize_before_upload = false;
    double seconds = 0;         // how long the cell took to measure and validate
    OffloadSummary offload;     // predicted, measured, verdict

    // "local 0.25 / remote 1 cpu, 10 Mbit/s, 20 ms RTT, resized": the same
    // settings give the same key (numbers in their shortest form).
    std::string key() const;
  };

  int version = 1;
  std::string collection;
  size_t images = 0;
  std::string cpu;      // the machine's CPU model, as `lookout bench` names it
  std::string created;  // UTC, ISO 8601, when the sweep began
  std::vector<Cell> cells;
};

void to_json(Json& j, const MapFile::Pair& v);
void to_json(Json& j, const MapFile::Cell& v);
void to_json(Json& j, const MapFile& v);
void from_json(const Json& j, MapFile::Pair& v);
void from_json(const Json& j, MapFile::Cell& v);
void from_json(const Json& j, MapFile& v);

// The file's text: two-space indents, a newline at the end.
std::string map_text(const MapFile& v);

// True for a document that claims to be a map (it has "cells").
bool looks_like_map(const Json& doc);

}  // namespace lookout::wire
