// lookout serve: the detector behind HTTP. One cpp-httplib server, the routes
// registered in one place (server.cc), a pool of detectors behind a bounded
// queue (pool.h), Prometheus metrics (metrics.h), one logger, errors shaped
// in one place, and a drain on SIGTERM/SIGINT.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lookout::server {

// A model to serve: `lookout serve --model NAME=PATH` (or PATH, named after
// its file stem).
struct ModelSpec {
  std::string name, path;
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 5029;
  int workers = 0;              // detectors in all, shared out over the models (at least one each); 0 = one per core
  int threads_per_worker = 1;
  int max_queue = 64;           // images waiting for a worker, across requests
  int max_body_mb = 32;
  uint64_t max_pixels = 50'000'000;
  std::string api_key;          // empty = no auth
  std::string tls_cert, tls_key;
  int drain_seconds = 10;
  std::string log_format = "text";  // text | json
  // Slow and idle clients: seconds a read or write may stall, seconds an idle
  // keep-alive connection is kept, connections served at once (a thread each).
  int read_timeout = 10, write_timeout = 10;
  int keep_alive_timeout = 2;
  int max_connections = 256;
  std::vector<ModelSpec> models;  // the first is the default
  std::string labels;
  std::string backend = "xnnpack";
  std::string isa;  // the xnnpack backend's level of our own kernels; "" = $LOOKOUT_ISA or the CPU's best
};

// Loads the model, warms every worker, serves until SIGTERM/SIGINT, drains
// and returns 0; 2 when the model, TLS files or port cannot be had (the
// reason on stderr). Blocks SIGINT/SIGTERM in the calling thread (and so in
// every thread it starts) and waits for them on a thread of its own.
int run_server(const ServerOptions& options);

}  // namespace lookout::server
