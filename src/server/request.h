// Reading and parsing detection requests, apart from running them: the body
// (JSON with base64 images, multipart/form-data, or a raw image), the
// threshold from the query or the body, typed refusals. The server's routes
// call these; fuzz/request_fuzz.cc drives them through httplib's own request
// parser without a socket.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "detect/detector.h"

namespace lookout::server {

// A refusal with its HTTP status; the server's exception handler shapes the body.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

std::string lower(std::string s);
// "image/jpeg; charset=x" -> "image/jpeg"
std::string media_type(const std::string& content_type);
// Strict base64 (standard alphabet, '=' padding, whitespace ignored); `what`
// names the field in the 400's message.
std::vector<uint8_t> base64_decode(const std::string& in, const std::string& what);
// A number in [0, 1], or a 400 naming `name`.
float parse_threshold(const std::string& text, const std::string& name);

struct Upload {
  std::string id;
  std::string data;
  std::string field;  // multipart field name
};

// POST /api/detect, parsed: the images (in request order) and the filter.
struct DetectRequest {
  std::vector<Upload> images;
  detect::Filter filter;
  double upload_ms = 0;  // receiving the body
};

// POST /v1/vision/detection and /v1/vision/custom/{model}, parsed: the
// image and min_confidence (default 0.4, also when sent empty).
struct DeepStackRequest {
  Upload image;
  detect::Filter filter;
};

// --api-key: sent as Authorization: Bearer KEY or X-API-Key: KEY on every
// detection route, or (DeepStack's and CodeProject.AI's only way) as the
// form field api_key on /v1/vision/*. Compared in constant time.
class ApiKey {
 public:
  explicit ApiKey(const std::string& key);
  bool required() const { return required_; }
  // True when a header carries the right key; false when no header carries
  // one (or none is required); a wrong key throws HttpError(401).
  bool check_headers(const httplib::Request& req) const;
  // The headers' key, or the form field's value when the headers had none
  // (`field`: nullptr when absent). Throws HttpError(401) when missing or wrong.
  void check_field(const std::string* field) const;

 private:
  bool matches(const std::string& given) const;
  bool required_;
  std::string digest_;  // SHA-256 of the key
};

// Run `admit` (auth) and the route's Content-Type check before reading the
// body; on a refusal the body is still read and dropped, so a keep-alive
// connection stays in step. Then read the body (httplib enforces
// max_body_mb: 413) and parse it. Every refusal is an HttpError.
DetectRequest read_detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                          int max_body_mb, const std::function<void()>& admit);
// DeepStack's request, as its clients send it: multipart with the image in
// field `image` (with or without a filename or Content-Type: sniffed), or,
// as CodeProject.AI takes it, the one file of another name; the key from a
// header (checked before the body) or the api_key field (after it).
// `admit` runs before the body (e.g. the model name check).
DeepStackRequest read_deepstack(const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader, int max_body_mb, const ApiKey& key,
                                const std::function<void()>& admit);

// A /v1/vision/* request that carries no image (custom/list): reads the form
// (multipart, urlencoded or none) only to find the key, then checks it.
void read_deepstack_auth(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                         int max_body_mb, const ApiKey& key);

// JPEG or PNG, by their first bytes.
bool looks_like_image(const std::string& bytes);

// Reads and drops the body, then throws HttpError(status, message): for a
// route that refuses every POST (405).
[[noreturn]] void refuse_after_body(const httplib::Request& req, const httplib::ContentReader& reader, int status,
                                    const std::string& message);

}  // namespace lookout::server
