// Where `lookout run` sends an image: "local" (a detector in this process)
// or a `lookout serve` (or compatible) at http[s]://host:port. A Worker is
// one thread's handle on a target — a detector of its own, or one
// keep-alive connection — and turns one image file into one Record,
// retrying what a retry can fix.
//
// Lifecycle: parse_target() once, make_*_worker() per thread, process()
// per image, from that thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "client/record.h"
#include "detect/detector.h"

namespace lookout::client {

struct TargetSpec {
  std::string name;   // "local" or the URL as given (scheme://host:port, no trailing slash)
  bool local = false;
};

// "local", "http://host:port" or "https://host:port" (a path is refused).
// Throws std::invalid_argument saying what a target looks like.
TargetSpec parse_target(const std::string& text);

struct ImageFile {
  std::filesystem::path path;  // the file
  std::string image;           // its name in records: relative to the collection
};

struct HttpOptions {
  std::string api_key;              // sent as X-API-Key when not empty
  double threshold = 0.5;           // the server's ?threshold
  int max_attempts = 8;             // connection errors, 503, 500/502/504: tried this often
  double backoff_first_ms = 200;    // doubled per attempt, up to backoff_max_ms; 503 Retry-After wins when longer
  double backoff_max_ms = 5000;
  int timeout_s = 300;              // connect/read/write timeout per request
  bool resize_before_upload = false;
  int resize_quality = 90;          // JPEG quality of the downscaled upload
  bool verify_tls = true;           // https: check the certificate (off: self-signed labs)
  std::string ca_cert;              // https: a CA bundle file to trust
};

class Worker {
 public:
  virtual ~Worker() = default;
  // Never throws for a bad image or an unreachable server: the record says.
  virtual wire::Record process(const ImageFile& job) = 0;
};

// A detector of its own (engine threads from `options.engine`), filtering
// with options.filter.
std::unique_ptr<Worker> make_local_worker(std::shared_ptr<const engine::Model> model,
                                          std::shared_ptr<const detect::Labels> labels,
                                          const detect::DetectorOptions& options);

// One keep-alive connection to `target`. With resize_before_upload, the
// model input size is read from the server's /api/model when the worker is
// made (throws std::runtime_error if it cannot be).
std::unique_ptr<Worker> make_http_worker(const TargetSpec& target, const HttpOptions& options);

// --resize-before-upload: the image decoded upright, scaled to exactly
// width x height (what the server's detector resizes to anyway) and
// re-encoded as JPEG; the original bytes when that would not be smaller.
// Throws image::DecodeError for a bad image.
struct Prepared {
  std::vector<uint8_t> bytes;
  std::string content_type;   // image/jpeg or image/png
  int width = 0, height = 0;  // the original image, upright (0 when not decoded)
};
Prepared shrink_for_upload(std::vector<uint8_t> original, int width, int height, int quality);

// GET /healthz round trips on one warm connection: the median, in ms.
// Throws std::runtime_error when the server does not answer.
double measure_rtt_ms(const TargetSpec& target, const HttpOptions& options, int samples);

// The server's /api/model document (input size, workers, labels).
// Throws std::runtime_error when it cannot be had.
wire::ModelCatalog fetch_model_info(const TargetSpec& target, const HttpOptions& options);

}  // namespace lookout::client
