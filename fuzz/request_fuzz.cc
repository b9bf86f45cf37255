// Fuzz target: request parsing. The bytes are one HTTP request as a client
// would send it; httplib's own request parser (request line, headers, query
// string, Content-Length or chunked body, multipart/form-data) hands it to
// the server's detection routes (src/server/request.h: JSON, base64,
// multipart fields, thresholds) and to the KServe V2 routes (src/server/
// kserve.h: model and version in the path, the inference request's JSON
// tensors and binary tensor data), served from memory without a socket. The routes stop before
// the detector (the image path has its own target): the KServe model here
// has no pool, so a request that parses is answered 503. A
// refusal is an HttpError shaped into a 4xx; any other exception, a crash
// or a sanitizer report is a finding.
#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "server/kserve.h"
#include "server/request.h"

namespace {

// One request's bytes as a connection; what the server writes back is dropped.
class FuzzedStream : public httplib::Stream {
 public:
  FuzzedStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, size_ - pos_);
    std::memcpy(ptr, data_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char*, size_t size) override { return static_cast<ssize_t>(size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 50000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 5029;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

constexpr int kMaxBodyMb = 1;

// The served model's metadata, as `lookout serve` reads it from the SSD
// MobileNet V2 file (tests/wire/golden/kserve_model_metadata.json).
lookout::server::KServeModel kserve_model() {
  lookout::server::KServeModel m;
  m.metadata = {"mobilenet_ssd_v2_coco_quant_postprocess",
                {"1"},
                "tflite",
                {{"normalized_input_image_tensor", "UINT8", {1, 300, 300, 3}}},
                {{"TFLite_Detection_PostProcess", "FP32", {1, 20, 4}},
                 {"TFLite_Detection_PostProcess:1", "FP32", {1, 20}},
                 {"TFLite_Detection_PostProcess:2", "FP32", {1, 20}},
                 {"TFLite_Detection_PostProcess:3", "FP32", {1}}}};
  return m;
}

class FuzzServer : public httplib::Server {
 public:
  FuzzServer() {
    using lookout::server::HttpError;
    set_payload_max_length(static_cast<size_t>(kMaxBodyMb) << 20);
    Post("/api/detect", [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      lookout::server::read_detect(req, res, reader, kMaxBodyMb, [] {});
    });
    // A key is set, so both ways of sending it (headers before the body, the
    // api_key form field after it) are exercised.
    static const lookout::server::ApiKey key("fuzz-key");
    Post(R"(/v1/vision/(detection|custom/[^/]+))",
         [](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
           if (req.path == "/v1/vision/custom/list")
             lookout::server::read_deepstack_auth(req, res, reader, kMaxBodyMb, key);
           else
             lookout::server::read_deepstack(req, res, reader, kMaxBodyMb, key, [] {});
         });
    lookout::server::install_kserve(
        *this, {[this](const std::string& name) { return name == kserve_.metadata.name ? &kserve_ : nullptr; },
                [this] { return std::vector<std::string>{kserve_.metadata.name}; }, [](const httplib::Request&) {},
                [] { return true; }, [](int) {}});
    // As in the server: HttpError is a refusal; any other exception would be a 500, a bug.
    set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const HttpError& e) {
        res.status = e.status;
      } catch (...) {
        __builtin_trap();
      }
    });
  }
  void serve(httplib::Stream& stream) {
    bool closed = false;
    process_request(stream, /*close_connection=*/true, closed, nullptr);
  }

 private:
  const lookout::server::KServeModel kserve_ = kserve_model();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzServer* server = new FuzzServer;  // one for the process, as a real server
  FuzzedStream stream(data, size);
  server->serve(stream);
  return 0;
}
