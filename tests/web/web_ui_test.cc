// The web UI at /, against a real `lookout serve` on a loopback port: the
// files as served (the bytes of web/, their types, caching, the CSP, public
// even with an API key), then the page itself in Debian's chromium driven by
// playwright-core (tests/web/browser_test.js), which leaves screenshots in
// LOOKOUT_WEB_ARTIFACTS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "server/server_process.h"

#ifndef LOOKOUT_WEB_ARTIFACTS
#error "LOOKOUT_WEB_ARTIFACTS (where the browser test leaves its screenshots) must be defined by the build"
#endif

namespace lookout::server_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kWeb = kRoot / "web";

// The local files index.html loads (href= and src= without a scheme).
std::set<std::string> files_named_by(const std::string& html) {
  std::set<std::string> out;
  for (const std::string attribute : {" href=\"", " src=\""}) {
    for (size_t at = html.find(attribute); at != std::string::npos; at = html.find(attribute, at + 1)) {
      const size_t begin = at + attribute.size();
      const std::string target = html.substr(begin, html.find('"', begin) - begin);
      if (target.find(':') == std::string::npos && target.rfind("/metrics", 0) != 0) out.insert(target);
    }
  }
  return out;
}

TEST(WebUi, PageAndEveryFileItLoadsAreTheBytesOfWebWithTheirTypes) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  auto c = server.client();
  auto page = c->Get("/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->body, read_file(kWeb / "index.html")) << "the binary serves a stale index.html: rebuild";
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"), StartsWith("default-src 'self';"));
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");

  const std::set<std::string> files = files_named_by(page->body);
  EXPECT_EQ(files, (std::set<std::string>{"app.js", "style.css", "favicon.svg"}));
  const std::map<std::string, std::string> types = {{".js", "text/javascript; charset=utf-8"},
                                                    {".css", "text/css; charset=utf-8"},
                                                    {".svg", "image/svg+xml"}};
  for (const std::string& name : files) {
    SCOPED_TRACE(name);
    auto res = c->Get("/" + name);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), types.at(fs::path(name).extension().string()));
    EXPECT_EQ(res->body, read_file(kWeb / name));
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache");
  }
  auto index = c->Get("/index.html");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->body, page->body);
}

TEST(WebUi, RevalidationWithTheETagAnswers304WithoutABody) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  auto c = server.client();
  for (const char* path : {"/", "/app.js"}) {
    SCOPED_TRACE(path);
    auto first = c->Get(path);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->get_header_value("Cache-Control"), "no-cache");
    const std::string etag = first->get_header_value("ETag");
    ASSERT_THAT(etag, StartsWith("\""));
    auto again = c->Get(path, {{"If-None-Match", etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(again->get_header_value("ETag"), etag);
    auto changed = c->Get(path, {{"If-None-Match", "\"something-older\""}});
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->status, 200);
    EXPECT_EQ(changed->body, first->body);
  }
  EXPECT_NE(c->Get("/")->get_header_value("ETag"), c->Get("/app.js")->get_header_value("ETag"));
}

TEST(WebUi, OnlyTheEmbeddedFilesAreServed) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  auto c = server.client();
  // Route patterns are regular expressions: a '.' must match only a '.'.
  for (const char* path : {"/appxjs", "/app.js.map", "/web/app.js", "/nope.html", "/index.html/"}) {
    auto res = c->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  auto outside = c->Get("/../CMakeLists.txt");
  ASSERT_TRUE(outside);
  EXPECT_NE(outside->status, 200);
  EXPECT_THAT(outside->body, ::testing::Not(HasSubstr("cmake_minimum_required")));
}

TEST(WebUi, PublicWithAnApiKeyWhileDetectionNeedsTheKey) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--api-key", "page-test-key"}, {}, false, {}});
  auto c = server.client();
  for (const char* path : {"/", "/app.js", "/style.css", "/favicon.svg", "/api/model"}) {
    auto res = c->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  auto detect = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(detect);
  EXPECT_EQ(detect->status, 401);
  // The page and its files count under one route label in the metrics.
  auto metrics = c->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("lookout_requests_total{route=\"/\",code=\"200\"} 4"));
}

// Runs one scenario of browser_test.js against `server`; its output is the
// failure message. The scenario must leave a fresh `screenshot`.
void run_browser(const ServerProcess& server, const std::string& scenario, const std::string& screenshot,
                 const std::string& extra = "") {
  const fs::path shot = fs::path(LOOKOUT_WEB_ARTIFACTS) / screenshot;
  fs::remove(shot);
  const int timeout_ms = 30000 * slow_factor();
  const std::string cmd = "timeout -k 10 " + std::to_string(timeout_ms / 1000 * 8) + " node " +
                          shell_quote((kRoot / "tests" / "web" / "browser_test.js").string()) + " --url " +
                          shell_quote(server.url()) + " --scenario " + scenario + " --artifacts " +
                          shell_quote(LOOKOUT_WEB_ARTIFACTS) + " --timeout-ms " + std::to_string(timeout_ms) + extra +
                          " 2>&1";
  const CommandResult r = run_command(cmd);
  EXPECT_EQ(r.status, 0) << cmd << "\n" << r.out << "\nlookout serve's stderr:\n" << server.log();
  EXPECT_THAT(r.out, HasSubstr("PASS " + scenario));
  EXPECT_TRUE(fs::exists(shot)) << "no screenshot at " << shot;
}

// Pick (with the keyboard), drop and paste real photos; boxes, labels,
// timings; the threshold slider and the class filter without re-upload; a
// corrupt file's readable error; nothing loaded from elsewhere.
TEST(WebUiBrowser, ShowsDetectionsFiltersThemAndReportsErrors) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  run_browser(server, "detect", "web-ui.png");
}

// The key asked for on the first 401, asked again when wrong, kept in the
// tab's sessionStorage, sent as Authorization: Bearer.
TEST(WebUiBrowser, AsksForTheApiKeyOnceAndKeepsItInTheTab) {
  const std::string key = "browser-test-key";
  ServerProcess server(ServerOptions{{"--workers", "1", "--api-key", key}, {}, false, {}});
  run_browser(server, "api-key", "web-ui-api-key.png", " --api-key " + shell_quote(key));
}

// Two models served: the menu lists both and a photo goes to the one chosen.
TEST(WebUiBrowser, OffersAModelMenuWhenSeveralModelsAreServed) {
  const std::string model = (kRoot / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite").string();
  ServerProcess server(ServerOptions{{"--workers", "2", "--model", model, "--model", "second=" + model}, {}, false, {}});
  run_browser(server, "models", "web-ui-models.png");
}

}  // namespace
}  // namespace lookout::server_test
