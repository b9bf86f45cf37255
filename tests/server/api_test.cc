// POST /api/detect in its three body styles (JSON base64 batch, multipart,
// raw image body), the DeepStack route, the health and model routes, and
// every 4xx the API documents — against one real `lookout serve` on a
// loopback port, with cpp-httplib's client and with the curl CLI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "image/png_fixture.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::set<std::string> labels_of(const json& result) {
  std::set<std::string> out;
  for (const auto& d : result.at("detections")) out.insert(d.at("label").get<std::string>());
  return out;
}

// One /api/detect result entry: the documented shape, sane boxes.
void expect_ok_result(const json& r, const std::string& id, int width, int height) {
  SCOPED_TRACE(r.dump().substr(0, 400));
  EXPECT_EQ(r.at("id"), id);
  EXPECT_TRUE(r.at("status").is_number_integer()) << r.at("status");
  EXPECT_EQ(r.at("status"), 200);
  EXPECT_EQ(r.at("width"), width);
  EXPECT_EQ(r.at("height"), height);
  EXPECT_FALSE(r.contains("error"));
  ASSERT_TRUE(r.at("detections").is_array());
  for (const auto& d : r.at("detections")) {
    EXPECT_TRUE(d.at("class_id").is_number_integer());
    EXPECT_TRUE(d.at("label").is_string());
    const double score = d.at("score").get<double>();
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);
    const auto& b = d.at("box");
    EXPECT_LE(0.0, b.at("xmin").get<double>());
    EXPECT_LT(b.at("xmin").get<double>(), b.at("xmax").get<double>());
    EXPECT_LE(b.at("xmax").get<double>(), 1.0);
    EXPECT_LE(0.0, b.at("ymin").get<double>());
    EXPECT_LT(b.at("ymin").get<double>(), b.at("ymax").get<double>());
    EXPECT_LE(b.at("ymax").get<double>(), 1.0);
    const auto& p = d.at("box_px");
    EXPECT_LE(0.0, p.at("xmin").get<double>());
    EXPECT_LE(p.at("xmax").get<double>(), width);
    EXPECT_LE(0.0, p.at("ymin").get<double>());
    EXPECT_LE(p.at("ymax").get<double>(), height);
  }
  const auto& t = r.at("timing_ms");
  for (const char* k : {"queue", "decode", "inference", "postprocess", "total"}) {
    EXPECT_TRUE(t.at(k).is_number()) << k;
    EXPECT_GE(t.at(k).get<double>(), 0.0) << k;
  }
}

void expect_dog(const json& r, const std::string& id) {
  expect_ok_result(r, id, 768, 576);
  EXPECT_TRUE(labels_of(r).count("dog")) << r.dump();
  EXPECT_TRUE(labels_of(r).count("bicycle")) << r.dump();
}

void expect_giraffe(const json& r, const std::string& id) {
  expect_ok_result(r, id, 500, 500);
  EXPECT_TRUE(labels_of(r).count("giraffe")) << r.dump();
}

// A two-image batch answer: dog.jpg first, then giraffe.jpg.
void expect_dog_then_giraffe(const std::string& body) {
  const json j = json::parse(body);
  ASSERT_EQ(j.at("results").size(), 2u);
  expect_dog(j["results"][0], "dog.jpg");
  expect_giraffe(j["results"][1], "giraffe.jpg");
}

void expect_summary(const json& body, int images, int ok, int failed) {
  const auto& s = body.at("summary");
  EXPECT_EQ(s.at("images"), images);
  EXPECT_EQ(s.at("ok"), ok);
  EXPECT_EQ(s.at("failed"), failed);
  for (const char* k : {"upload_ms", "avg_upload_ms", "avg_inference_ms"}) {
    EXPECT_TRUE(s.at(k).is_number()) << k;
    EXPECT_GE(s.at(k).get<double>(), 0.0) << k;
  }
}

// An error body: {"error": "...", "code": status}.
void expect_error(const std::string& body, int status, const std::string& mentions = "") {
  SCOPED_TRACE(body.substr(0, 400));
  const json j = json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "error body is not JSON";
  ASSERT_TRUE(j.contains("error"));
  EXPECT_TRUE(j.at("error").is_string());
  EXPECT_FALSE(j.at("error").get<std::string>().empty());
  EXPECT_EQ(j.value("code", 0), status);
  if (!mentions.empty()) {
    EXPECT_THAT(j.at("error").get<std::string>(), HasSubstr(mentions));
  }
}

std::string json_batch(const std::vector<std::pair<std::string, std::string>>& images, double threshold = 0.5) {
  json j;
  j["images"] = json::array();
  for (const auto& [id, bytes] : images) j["images"].push_back({{"id", id}, {"data", base64(bytes)}});
  j["threshold"] = threshold;
  return j.dump();
}

class ApiTest : public SharedServerTest {
 protected:
  static void SetUpTestSuite() { start(ServerOptions{{"--workers", "2"}, {}, false, {}}); }
  TempDir tmp_;
};

TEST_F(ApiTest, HealthAndModelRoutes) {
  auto c = server_->client();
  for (const char* path : {"/healthz", "/v2/health/live", "/v2/health/ready"}) {
    auto res = c->Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << path;
  }
  auto res = c->Get("/api/model");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const json m = json::parse(res->body);
  EXPECT_FALSE(m.dump().find("giraffe") == std::string::npos) << "the model route lists the labels";
}

TEST_F(ApiTest, StartupLineOnStderr) {
  EXPECT_THAT(server_->log(), HasSubstr("lookout serve: listening on http://127.0.0.1:" + std::to_string(server_->port())));
}

TEST_F(ApiTest, JsonBase64BatchHttplib) {
  auto c = server_->client();
  const std::string body = json_batch({{"dog.jpg", read_file(kDog)}, {"giraffe.jpg", read_file(kGiraffe)}});
  auto res = c->Post("/api/detect", body, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("application/json"));
  expect_dog_then_giraffe(res->body);
  expect_summary(json::parse(res->body), 2, 2, 0);
}

TEST_F(ApiTest, JsonBase64BatchCurl) {
  const fs::path req = tmp_.path() / "req.json";
  write_file(req, json_batch({{"dog.jpg", read_file(kDog)}, {"giraffe.jpg", read_file(kGiraffe)}}));
  const auto r = curl("-H 'Content-Type: application/json' --data-binary @" + shell_quote(req.string()) + " " +
                          shell_quote(server_->url() + "/api/detect"),
                      tmp_.path() / "out");
  ASSERT_EQ(r.status, 200) << r.body;
  expect_dog_then_giraffe(r.body);
}

TEST_F(ApiTest, ThresholdFilters) {
  auto c = server_->client();
  auto strict = c->Post("/api/detect", json_batch({{"dog.jpg", read_file(kDog)}}, 0.95), "application/json");
  auto loose = c->Post("/api/detect", json_batch({{"dog.jpg", read_file(kDog)}}, 0.3), "application/json");
  ASSERT_TRUE(strict && loose);
  ASSERT_EQ(strict->status, 200);
  ASSERT_EQ(loose->status, 200);
  const json s = json::parse(strict->body)["results"][0];
  const json l = json::parse(loose->body)["results"][0];
  for (const auto& d : s["detections"]) EXPECT_GE(d["score"].get<double>(), 0.95);
  EXPECT_LT(s["detections"].size(), l["detections"].size());
}

TEST_F(ApiTest, MultipartTwoFilesHttplib) {
  auto c = server_->client();
  httplib::MultipartFormDataItems items = {
      {"images", read_file(kDog), "dog.jpg", "image/jpeg"},
      {"images", read_file(kGiraffe), "giraffe.jpg", "image/jpeg"},
  };
  auto res = c->Post("/api/detect", items);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  expect_dog_then_giraffe(res->body);
  expect_summary(json::parse(res->body), 2, 2, 0);
}

TEST_F(ApiTest, MultipartTwoFilesCurl) {
  const auto r = curl("-F " + shell_quote("image=@" + kDog.string() + ";filename=dog.jpg;type=image/jpeg") + " -F " +
                          shell_quote("image=@" + kGiraffe.string() + ";filename=giraffe.jpg;type=image/jpeg") + " " +
                          shell_quote(server_->url() + "/api/detect"),
                      tmp_.path() / "out");
  ASSERT_EQ(r.status, 200) << r.body;
  expect_dog_then_giraffe(r.body);
}

TEST_F(ApiTest, RawJpegBodyWithIdHttplib) {
  auto c = server_->client();
  auto res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  ASSERT_EQ(j.at("results").size(), 1u);
  expect_dog(j["results"][0], "dog.jpg");
  expect_summary(j, 1, 1, 0);
}

TEST_F(ApiTest, RawJpegBodyWithIdCurl) {
  const auto r = curl("-H 'Content-Type: image/jpeg' --data-binary @" + shell_quote(kGiraffe.string()) + " " +
                          shell_quote(server_->url() + "/api/detect?id=giraffe.jpg"),
                      tmp_.path() / "out");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  ASSERT_EQ(j.at("results").size(), 1u);
  expect_giraffe(j["results"][0], "giraffe.jpg");
}

void expect_deepstack(const json& j, int width, int height, double min_confidence, const std::string& must_find) {
  SCOPED_TRACE(j.dump().substr(0, 400));
  EXPECT_EQ(j.at("success"), true);
  ASSERT_TRUE(j.at("predictions").is_array());
  EXPECT_EQ(j.at("count"), j.at("predictions").size());
  for (const char* k : {"inferenceMs", "processMs", "analysisRoundTripMs"}) {
    EXPECT_TRUE(j.at(k).is_number()) << k;
  }
  bool found = false;
  for (const auto& p : j.at("predictions")) {
    EXPECT_TRUE(p.at("label").is_string());
    const double conf = p.at("confidence").get<double>();
    EXPECT_GE(conf, min_confidence);
    EXPECT_LE(conf, 1.0);
    for (const char* k : {"x_min", "y_min", "x_max", "y_max"}) {
      EXPECT_TRUE(p.at(k).is_number_integer()) << k << " is not an integer: " << p.at(k);
    }
    EXPECT_LE(0, p.at("x_min").get<int>());
    EXPECT_LT(p.at("x_min").get<int>(), p.at("x_max").get<int>());
    EXPECT_LE(p.at("x_max").get<int>(), width);
    EXPECT_LE(0, p.at("y_min").get<int>());
    EXPECT_LT(p.at("y_min").get<int>(), p.at("y_max").get<int>());
    EXPECT_LE(p.at("y_max").get<int>(), height);
    found = found || p.at("label") == must_find;
  }
  EXPECT_TRUE(found) << must_find << " not among the predictions";
}

TEST_F(ApiTest, DeepStackHttplib) {
  auto c = server_->client();
  httplib::MultipartFormDataItems items = {
      {"image", read_file(kDog), "dog.jpg", "image/jpeg"},
      {"min_confidence", "0.6", "", ""},
  };
  auto res = c->Post("/v1/vision/detection", items);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  expect_deepstack(json::parse(res->body), 768, 576, 0.6, "dog");
}

TEST_F(ApiTest, DeepStackCurlDefaultConfidence) {
  const auto r = curl("-F " + shell_quote("image=@" + kGiraffe.string()) + " " +
                          shell_quote(server_->url() + "/v1/vision/detection"),
                      tmp_.path() / "out");
  ASSERT_EQ(r.status, 200) << r.body;
  expect_deepstack(json::parse(r.body), 500, 500, 0.4, "giraffe");
}

TEST_F(ApiTest, DeepStackErrorShape) {
  auto c = server_->client();
  httplib::MultipartFormDataItems items = {{"image", "not an image", "notes.txt", "text/plain"}};
  auto res = c->Post("/v1/vision/detection", items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status / 100, 4) << res->body;
  const json j = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << res->body;
  EXPECT_EQ(j.value("success", true), false) << res->body;
  EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << res->body;
}

TEST_F(ApiTest, BatchWithOneCorruptImage) {
  auto c = server_->client();
  std::string corrupt = read_file(kDog).substr(0, 600);  // a JPEG cut off in its headers
  const std::string body = json_batch({{"dog.jpg", read_file(kDog)}, {"bad.jpg", corrupt}, {"giraffe.jpg", read_file(kGiraffe)}});
  auto res = c->Post("/api/detect", body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  ASSERT_EQ(j.at("results").size(), 3u);
  expect_dog(j["results"][0], "dog.jpg");
  const json& bad = j["results"][1];
  EXPECT_EQ(bad.at("id"), "bad.jpg");
  EXPECT_TRUE(bad.at("status").is_number_integer()) << bad.at("status");
  EXPECT_EQ(bad.at("status"), 400);  // a bad image is the client's error
  ASSERT_TRUE(bad.contains("error")) << bad.dump();
  EXPECT_FALSE(bad.at("error").get<std::string>().empty());
  EXPECT_TRUE(!bad.contains("detections") || bad["detections"].empty());
  expect_giraffe(j["results"][2], "giraffe.jpg");
  expect_summary(j, 3, 2, 1);
}

TEST_F(ApiTest, MalformedJsonIs400) {
  auto c = server_->client();
  auto res = c->Post("/api/detect", R"({"images": [{"id": "a.jpg", "data": )", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  expect_error(res->body, 400);
  // Valid JSON of the wrong shape.
  res = c->Post("/api/detect", R"({"images": "dog.jpg"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  expect_error(res->body, 400);
}

TEST_F(ApiTest, BadBase64Is400) {
  auto c = server_->client();
  auto res = c->Post("/api/detect", R"({"images": [{"id": "a.jpg", "data": "%%% not base64 %%%"}]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  expect_error(res->body, 400);
}

TEST_F(ApiTest, MalformedMultipartIs400) {
  auto c = server_->client();
  auto res = c->Post("/api/detect", "--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
                     "multipart/form-data; boundary=xyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  expect_error(res->body, 400);
}

TEST_F(ApiTest, PixelLimitIs400) {
  auto c = server_->client();
  // Only a signature and an IHDR: the server must refuse it from the header, before decoding.
  const std::vector<uint8_t> huge = image::testing::png_header_only(100000, 100000);
  auto res = c->Post("/api/detect?id=huge.png", std::string(huge.begin(), huge.end()), "image/png");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;
  expect_error(res->body, 400, "pixels");
  // The server is fine afterwards.
  res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ApiTest, UnsupportedTypeIs415) {
  auto c = server_->client();
  auto res = c->Post("/api/detect", "hello", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415) << res->body;
  expect_error(res->body, 415);

  const auto r = curl("-H 'Content-Type: text/plain' --data-binary hello " + shell_quote(server_->url() + "/api/detect"),
                      tmp_.path() / "out");
  EXPECT_EQ(r.status, 415) << r.body;
}

TEST_F(ApiTest, UnknownRouteIs404) {
  auto c = server_->client();
  auto res = c->Get("/no/such/route");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

// --max-body-mb 1 and a 2 MB body: 413, and the server goes on.
TEST(BodyLimit, TwoMegabytesOverAOneMegabyteLimitIs413) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--max-body-mb", "1"}, {}, false, {}});
  TempDir tmp;
  std::string big = read_file(kKite);  // 1.4 MB, a real JPEG
  big += std::string(2 * 1024 * 1024 - big.size(), '\0');
  const fs::path f = tmp.path() / "big.jpg";
  write_file(f, big);
  const auto r = curl("-H 'Content-Type: image/jpeg' --data-binary @" + shell_quote(f.string()) + " " +
                          shell_quote(server.url() + "/api/detect?id=big.jpg"),
                      tmp.path() / "out");
  EXPECT_EQ(r.status, 413) << r.body;
  if (r.status == 413 && !r.body.empty()) expect_error(r.body, 413);

  auto c = server.client();
  auto res = c->Post("/api/detect?id=big.jpg", big, "image/jpeg");
  // The server may answer 413 before reading the body and close; the
  // client then sees either the 413 or a failed write, never a 200.
  if (res) {
    EXPECT_EQ(res->status, 413) << res->body;
  }

  // Under the limit is fine.
  res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(server.running());
}

}  // namespace
}  // namespace lookout::server_test

namespace lookout::server_test {
namespace {

// --log-format json: one JSON object per request on stderr, with method,
// path, status, images and ms; images counts what each route's request
// carried (the native API, DeepStack, KServe).
TEST(RequestLog, JsonLinePerRequest) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--log-format", "json"}, {}, false, {}});
  auto c = server.client();
  auto res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  res = c->Post("/api/detect", "x", "text/plain");
  ASSERT_TRUE(res);
  res = c->Post("/v1/vision/detection", httplib::MultipartFormDataItems{{"image", read_file(kDog), "dog.jpg", ""}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string infer = "/v2/models/mobilenet_ssd_v2_coco_quant_postprocess/infer";
  const json kserve = {{"inputs", {{{"name", "normalized_input_image_tensor"},
                                     {"shape", {1}},
                                     {"datatype", "BYTES"},
                                     {"data", {base64(read_file(kDog))}}}}}};
  res = c->Post(infer, kserve.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto log_has = [&](const std::string& path, int status, int images) {
    std::istringstream in(server.log());
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("path", "") != path) continue;
      if (j.value("status", 0) != status) continue;
      EXPECT_EQ(j.value("method", ""), "POST") << line;
      EXPECT_EQ(j.value("images", -1), images) << line;
      EXPECT_TRUE(j.contains("ms") && j["ms"].is_number()) << line;
      return true;
    }
    return false;
  };
  // The line may be written just after the response: bounded wait.
  bool all = false;
  for (int i = 0; i < 100 && !all; ++i) {
    all = log_has("/api/detect", 200, 1) && log_has("/api/detect", 415, 0) &&
          log_has("/v1/vision/detection", 200, 1) && log_has(infer, 200, 1);
    if (!all) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(all) << server.log();
}

}  // namespace
}  // namespace lookout::server_test
