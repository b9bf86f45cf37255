#include "server/request.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

namespace lookout::server {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string sha256(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

// The body as it arrived: image parts (or the whole body) and plain fields.
struct Body {
  std::vector<Upload> images;
  std::map<std::string, std::string> fields;  // multipart fields without a filename
  double upload_ms = 0;
};

void drain(const httplib::Request& req, const httplib::ContentReader& reader) {
  if (req.is_multipart_form_data())
    reader([](const httplib::MultipartFormData&) { return true; }, [](const char*, size_t) { return true; });
  else
    reader([](const char*, size_t) { return true; });
}

// A refusal before the body was read still reads it (and drops it), so the
// next request on a keep-alive connection starts where it should.
void before_body(const httplib::Request& req, const httplib::ContentReader& reader,
                 const std::function<void()>& check) {
  try {
    check();
  } catch (const HttpError&) {
    drain(req, reader);
    throw;
  }
}

// Reads the whole body (httplib enforces the limit), timing the receive.
Body read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
               int max_body_mb) {
  Body body;
  const auto t0 = Clock::now();
  bool ok;
  if (req.is_multipart_form_data()) {
    std::vector<httplib::MultipartFormData> parts;
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          parts.push_back(part);
          return true;
        },
        [&](const char* data, size_t n) {
          parts.back().content.append(data, n);
          return true;
        });
    for (httplib::MultipartFormData& p : parts) {
      if (p.filename.empty() && media_type(p.content_type).rfind("image/", 0) != 0)
        body.fields[p.name] = std::move(p.content);
      else
        body.images.push_back({p.filename.empty() ? p.name : p.filename, std::move(p.content), p.name});
    }
  } else {
    std::string data;
    ok = reader([&](const char* d, size_t n) {
      data.append(d, n);
      return true;
    });
    body.images.push_back({"", std::move(data), ""});
  }
  body.upload_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!ok) {
    if (res.status == 413)
      throw HttpError(413, "request body larger than --max-body-mb " + std::to_string(max_body_mb) + " MiB");
    throw HttpError(400, req.is_multipart_form_data() ? "malformed multipart/form-data body"
                                                      : "request body could not be read");
  }
  return body;
}

// {"images":[{"id":..., "data":"<base64>"}...], "threshold": t}
std::vector<Upload> parse_json_images(const std::string& text, detect::Filter& filter) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw HttpError(400, std::string("malformed JSON: ") + e.what());
  }
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    throw HttpError(400, "JSON body must be an object with an \"images\" array");
  if (doc.contains("threshold")) {
    if (!doc["threshold"].is_number() || doc["threshold"].get<double>() < 0 || doc["threshold"].get<double>() > 1)
      throw HttpError(400, "threshold must be a number between 0 and 1");
    filter.threshold = doc["threshold"].get<float>();
  }
  std::vector<Upload> images;
  size_t i = 0;
  for (const json& item : doc["images"]) {
    const std::string where = "images[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("data") || !item["data"].is_string())
      throw HttpError(400, where + " must be an object with a base64 \"data\" string");
    std::string id = item.contains("id") && item["id"].is_string() ? item["id"].get<std::string>()
                                                                   : "image" + std::to_string(i);
    const std::vector<uint8_t> bytes = base64_decode(item["data"].get<std::string>(), where + ".data");
    images.push_back({std::move(id), std::string(bytes.begin(), bytes.end()), ""});
    ++i;
  }
  return images;
}

}  // namespace

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string media_type(const std::string& content_type) {
  std::string t = lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

std::vector<uint8_t> base64_decode(const std::string& in, const std::string& what) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(a[i])] = static_cast<int8_t>(i);
    return t;
  }();
  std::vector<uint8_t> out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t symbols = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      ++symbols;
      continue;
    }
    if (pad > 0 || table[c] < 0)
      throw HttpError(400, what + ": invalid base64 character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(table[c]);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 != 0 || pad > 2) throw HttpError(400, what + ": invalid base64 length or padding");
  if (out.empty()) throw HttpError(400, what + ": empty image data");
  return out;
}

float parse_threshold(const std::string& text, const std::string& name) {
  try {
    size_t used = 0;
    const float v = std::stof(text, &used);
    if (used == text.size() && v >= 0 && v <= 1) return v;
  } catch (const std::exception&) {
  }
  throw HttpError(400, name + " must be a number between 0 and 1, got '" + text + "'");
}

DetectRequest read_detect(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                          int max_body_mb, const std::function<void()>& admit) {
  const std::string type = media_type(req.get_header_value("Content-Type"));
  const bool is_json = type == "application/json", is_multipart = req.is_multipart_form_data();
  const bool is_raw = type == "image/jpeg" || type == "image/jpg" || type == "image/png";
  before_body(req, reader, [&] {
    admit();
    if (!is_json && !is_multipart && !is_raw)
      throw HttpError(415, "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                               "': send application/json, multipart/form-data, image/jpeg or image/png");
  });
  Body body = read_body(req, res, reader, max_body_mb);
  DetectRequest out;
  out.upload_ms = body.upload_ms;
  if (req.has_param("threshold"))
    out.filter.threshold = parse_threshold(req.get_param_value("threshold"), "threshold");

  if (is_json) {
    out.images = parse_json_images(body.images.at(0).data, out.filter);
  } else if (is_multipart) {
    out.images = std::move(body.images);
    if (body.fields.count("threshold")) out.filter.threshold = parse_threshold(body.fields["threshold"], "threshold");
  } else {
    out.images = std::move(body.images);
    out.images[0].id = req.has_param("id") ? req.get_param_value("id") : "image";
    if (out.images[0].data.empty()) throw HttpError(400, "empty request body: send the image bytes");
  }
  if (out.images.empty()) throw HttpError(400, "no images in the request");
  return out;
}

bool looks_like_image(const std::string& b) {
  return (b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8 &&
          static_cast<uint8_t>(b[2]) == 0xFF) ||
         (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}

ApiKey::ApiKey(const std::string& key) : required_(!key.empty()), digest_(sha256(key)) {}

bool ApiKey::matches(const std::string& given) const {
  const std::string d = sha256(given);
  return CRYPTO_memcmp(d.data(), digest_.data(), d.size()) == 0;
}

bool ApiKey::check_headers(const httplib::Request& req) const {
  if (!required_) return false;
  std::string given;
  const std::string auth = req.get_header_value("Authorization");
  if (lower(auth.substr(0, 7)) == "bearer ") given = auth.substr(7);
  else if (req.has_header("X-API-Key")) given = req.get_header_value("X-API-Key");
  else return false;
  if (!matches(given)) throw HttpError(401, "wrong API key");
  return true;
}

void ApiKey::check_field(const std::string* field) const {
  if (!required_) return;
  if (field == nullptr)
    throw HttpError(401, "missing API key: send Authorization: Bearer KEY, X-API-Key: KEY or the form field api_key");
  if (!matches(*field)) throw HttpError(401, "wrong API key");
}

DeepStackRequest read_deepstack(const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader, int max_body_mb, const ApiKey& key,
                                const std::function<void()>& admit) {
  bool key_checked = false;
  before_body(req, reader, [&] {
    key_checked = key.check_headers(req);
    admit();
    if (!req.is_multipart_form_data())
      throw HttpError(415, "unsupported Content-Type '" + req.get_header_value("Content-Type") +
                               "': send multipart/form-data with an 'image' field");
  });
  Body body = read_body(req, res, reader, max_body_mb);
  if (!key_checked) key.check_field(body.fields.count("api_key") ? &body.fields["api_key"] : nullptr);
  DeepStackRequest out;
  const Upload* image = nullptr;
  for (const Upload& u : body.images)
    if (u.field == "image") image = &u;
  if (image == nullptr && body.fields.count("image")) {
    // requests' files={"image": bytes} sends no filename and no Content-Type.
    body.images.push_back({"image", std::move(body.fields["image"]), "image"});
    image = &body.images.back();
  }
  if (image == nullptr && body.images.size() == 1) image = &body.images[0];
  if (image == nullptr) {
    // The one field, whatever its name, that holds an image.
    for (auto& [name, value] : body.fields)
      if (looks_like_image(value)) {
        if (image != nullptr) throw HttpError(400, "several images and none in field 'image': send one field 'image'");
        body.images.push_back({name, value, name});
        image = &body.images.back();
      }
  }
  if (image == nullptr && body.images.size() > 1)
    throw HttpError(400, "several files and none in field 'image': send the image in field 'image'");
  if (image == nullptr) throw HttpError(400, "missing multipart field 'image'");
  if (image->data.empty()) throw HttpError(400, "multipart field '" + image->field + "' is empty");
  out.image = *image;
  out.filter.threshold = 0.4f;
  std::string confidence;
  if (body.fields.count("min_confidence")) confidence = body.fields["min_confidence"];
  else if (req.has_param("min_confidence")) confidence = req.get_param_value("min_confidence");
  // DeepStack reads an empty min_confidence as its default.
  while (!confidence.empty() && std::isspace(static_cast<unsigned char>(confidence.back()))) confidence.pop_back();
  if (!confidence.empty()) out.filter.threshold = parse_threshold(confidence, "min_confidence");
  return out;
}

void read_deepstack_auth(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                         int max_body_mb, const ApiKey& key) {
  bool key_checked = false;
  before_body(req, reader, [&] { key_checked = key.check_headers(req); });
  Body body = read_body(req, res, reader, max_body_mb);
  if (key_checked || !key.required()) return;
  if (media_type(req.get_header_value("Content-Type")) == "application/x-www-form-urlencoded") {
    httplib::Params params;
    httplib::detail::parse_query_text(body.images.at(0).data, params);
    const auto it = params.find("api_key");
    key.check_field(it == params.end() ? nullptr : &it->second);
    return;
  }
  key.check_field(body.fields.count("api_key") ? &body.fields["api_key"] : nullptr);
}

void refuse_after_body(const httplib::Request& req, const httplib::ContentReader& reader, int status,
                       const std::string& message) {
  drain(req, reader);
  throw HttpError(status, message);
}

}  // namespace lookout::server
