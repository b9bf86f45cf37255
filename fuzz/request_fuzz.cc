// Fuzz target: request parsing. The bytes are one HTTP request as a client
// would send it; httplib's own request parser (request line, headers, query
// string, Content-Length or chunked body, multipart/form-data) hands it to
// the server's detection routes (src/server/request.h: JSON, base64,
// multipart fields, thresholds), served from memory without a socket. The
// routes stop before the detector (the image path has its own target). A
// refusal is an HttpError shaped into a 4xx; any other exception, a crash
// or a sanitizer report is a finding.
#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

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
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzServer* server = new FuzzServer;  // one for the process, as a real server
  FuzzedStream stream(data, size);
  server->serve(stream);
  return 0;
}
