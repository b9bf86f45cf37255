// Serves the embedded web/ files. Each answer carries an ETag (a digest of
// the bytes) and Cache-Control: no-cache, so a browser revalidates, gets a
// 304 while the binary is the same, and never runs a stale page after an
// upgrade. The HTML's Content-Security-Policy allows only this origin: the
// page works offline and cannot load anything from elsewhere.
#include "server/web_ui.h"

#include <httplib.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>
#include <vector>

#include "web_ui_files.h"

namespace lookout::server {

namespace {

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
  std::string path;  // "/app.js"
  std::string content_type;
  std::string etag;
  const embedded::File* file;
};

std::string content_type_of(const std::string& name) {
  const std::string ext = name.substr(name.rfind('.') + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  return "application/octet-stream";
}

std::string etag_of(const embedded::File& f) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(f.data, f.size, digest);
  std::string tag = "\"";
  char hex[3];
  for (int i = 0; i < 12; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    tag += hex;
  }
  return tag + "\"";
}

const std::vector<Asset>& assets() {
  static const std::vector<Asset> all = [] {
    std::vector<Asset> v;
    for (size_t i = 0; i < embedded::web_ui_files_count; ++i) {
      const embedded::File& f = embedded::web_ui_files[i];
      v.push_back({std::string("/") + f.name, content_type_of(f.name), etag_of(f), &f});
    }
    return v;
  }();
  return all;
}

// If-None-Match holds a list of tags, or "*".
// httplib route patterns are regular expressions: "/app.js" must not match "/appxjs".
std::string route_pattern(const std::string& path) {
  std::string pattern;
  for (char c : path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
  return pattern;
}

bool etag_matches(const std::string& if_none_match, const std::string& etag) {
  return if_none_match == "*" || if_none_match.find(etag) != std::string::npos;
}

void serve(const Asset& a, const httplib::Request& req, httplib::Response& res) {
  res.set_header("ETag", a.etag);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (a.content_type.rfind("text/html", 0) == 0) {
    res.set_header("Content-Security-Policy", kContentSecurityPolicy);
    res.set_header("Referrer-Policy", "no-referrer");
  }
  if (etag_matches(req.get_header_value("If-None-Match"), a.etag)) {
    res.status = 304;
    return;
  }
  res.set_content(reinterpret_cast<const char*>(a.file->data), a.file->size, a.content_type);
}

}  // namespace

void install_web_ui(httplib::Server& svr) {
  for (const Asset& a : assets()) {
    svr.Get(route_pattern(a.path), [&a](const httplib::Request& req, httplib::Response& res) { serve(a, req, res); });
    if (a.path == "/index.html")
      svr.Get("/", [&a](const httplib::Request& req, httplib::Response& res) { serve(a, req, res); });
  }
}

bool is_web_ui_path(const std::string& path) {
  if (path == "/") return true;
  for (const Asset& a : assets())
    if (a.path == path) return true;
  return false;
}

}  // namespace lookout::server
