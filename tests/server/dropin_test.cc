// Lookout as a drop-in for DeepStack and CodeProject.AI clients, tried with
// the requests those clients send, byte for byte over a raw connection:
//   - deepstack-python / Home Assistant (deepstack_object, codeproject_ai_object):
//     python-requests, files={"image": bytes} (part filename "image", no part
//     Content-Type), data={"api_key": ..., "min_confidence": ...};
//   - Frigate's deepstack detector: a requests.Session (keep-alive), a JPEG,
//     data={"api_key": ...};
//   - Blue Iris / Agent DVR: POST /v1/vision/custom/list, then
//     POST /v1/vision/custom/{model} with each model listed;
//   - CodeProject.AI's response fields, and its lone upload of another name.
// Three models are served at once: the real one under two names and a tiny
// synthetic SSD (detect/tiny_model.h) whose detections are its own: its two
// anchors' boxes, whatever the photo.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <cctype>
#include <set>

#include "detect/tiny_model.h"
#include "server/prometheus_text.h"
#include "server/raw_connection.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
constexpr const char* kKey = "s3cret-key";

struct Part {
  std::string name, filename, content_type, data;
};

// A multipart body as urllib3 (under python-requests) encodes it: data
// fields first, then files; a file without a name of its own is named
// after its field; no Content-Type unless the caller gave one.
std::string requests_multipart(const std::vector<Part>& parts, const std::string& boundary) {
  std::string body;
  for (const Part& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n" + p.data + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

// The request line and headers python-requests 2.31 sends.
std::string requests_post(int port, const std::string& path, const std::string& content_type,
                          const std::string& body) {
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUser-Agent: python-requests/2.31.0\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\n"
                    "Connection: keep-alive\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
  return req + "\r\n" + body;
}

// Whether `s` has the shape `shape`: x a lowercase hex digit, v one of 8,
// 9, a, b (a UUID's variant), 9 a digit, A an uppercase and a a lowercase
// letter, anything else itself. (No std::regex: GCC 12's <regex> trips
// -Werror in the sanitized build.)
bool fits(const std::string& s, const std::string& shape) {
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool ok = shape[i] == 'x'   ? std::isxdigit(c) && !std::isupper(c)
                    : shape[i] == 'v' ? std::string("89ab").find(s[i]) != std::string::npos
                    : shape[i] == '9' ? std::isdigit(c) != 0
                    : shape[i] == 'A' ? std::isupper(c) != 0
                    : shape[i] == 'a' ? std::islower(c) != 0
                                      : s[i] == shape[i];
    if (!ok) return false;
  }
  return true;
}

struct Answer {
  int status = 0;
  json body;
  std::string raw;
};

// python-requests asks for gzip and inflates what comes; so do we.
std::string gunzip(const std::string& in) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return "";
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "";
}

// Reads one whole response (Content-Length framed) from the connection.
Answer read_answer(RawConnection& conn) {
  std::string in;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30 * slow_factor());
  size_t header_end = std::string::npos, length = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      std::string head = in.substr(0, header_end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (const size_t at = head.find("\r\ncontent-length: "); at != std::string::npos)
        length = std::stoul(head.substr(at + 18));
    }
    if (header_end != std::string::npos && in.size() >= header_end + 4 + length) break;
    if (!conn.read_some(in, std::chrono::milliseconds(100))) break;
  }
  Answer a;
  a.raw = in;
  if (in.rfind("HTTP/1.1 ", 0) == 0) a.status = std::stoi(in.substr(9, 3));
  if (header_end != std::string::npos) {
    std::string body = in.substr(header_end + 4, length);
    if (in.substr(0, header_end).find("Content-Encoding: gzip") != std::string::npos) body = gunzip(body);
    a.body = json::parse(body, nullptr, false);
  }
  return a;
}

Answer send(int port, const std::string& request) {
  RawConnection conn(port);
  EXPECT_TRUE(conn.send(request));
  return read_answer(conn);
}

std::vector<std::string> labels_of(const json& answer) {
  std::vector<std::string> labels;
  for (const json& p : answer.value("predictions", json::array())) labels.push_back(p.value("label", ""));
  return labels;
}

class DropIn : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kRoot / "models" / "coco_labels.txt") || !fs::exists(kDog)) return;
    tmp_ = new TempDir;
    const fs::path tiny = tmp_->path() / "tiny.tflite";
    const std::vector<uint8_t> tiny_bytes = detect::testing::tiny_float_ssd();
    write_file(tiny, std::string(tiny_bytes.begin(), tiny_bytes.end()));
    const std::string model = (kRoot / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite").string();
    ServerOptions o;
    o.args = {"--api-key", kKey,   "--workers", "3", "--max-body-mb", "4", "--model", model,
              "--model",  "again=" + model, "--model", "tiny=" + tiny.string()};
    keyed_ = new ServerProcess(o);
    ServerOptions open;
    open.args = {"--workers", "1"};
    open_ = new ServerProcess(open);
  }
  static void TearDownTestSuite() {
    delete keyed_;
    delete open_;
    delete tmp_;
    keyed_ = open_ = nullptr;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (keyed_ == nullptr) GTEST_SKIP() << "model or photos missing: run scripts/setup";
  }

  static std::string dog() { return read_file(kDog); }
  static inline TempDir* tmp_ = nullptr;
  static inline ServerProcess* keyed_ = nullptr;  // --api-key, three models
  static inline ServerProcess* open_ = nullptr;   // no key, the default model
};

// deepstack-python's detect(): files={"image": image_bytes},
// data={"api_key": ..., "min_confidence": ...}.
std::string deepstack_python(int port, const std::string& path, const std::string& image, const std::string& key,
                             const std::string& min_confidence) {
  const std::string boundary = "3d6b6a416f9b5e1e8a4b5b1c2e0f7a9d";
  std::vector<Part> parts;
  if (!key.empty()) parts.push_back({"api_key", "", "", key});
  parts.push_back({"min_confidence", "", "", min_confidence});
  parts.push_back({"image", "image", "", image});
  return requests_post(port, path, "multipart/form-data; boundary=" + boundary, requests_multipart(parts, boundary));
}

TEST_F(DropIn, HomeAssistantDeepStackPythonWithTheKeyField) {
  const Answer a = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/detection", dog(), kKey, "0.45"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body.value("success", false), true);
  EXPECT_THAT(labels_of(a.body), ::testing::IsSupersetOf({"dog", "bicycle"}));
  for (const json& p : a.body["predictions"]) {
    EXPECT_GE(p.value("confidence", 0.0), 0.45) << p;
    for (const char* k : {"x_min", "y_min", "x_max", "y_max"}) EXPECT_TRUE(p[k].is_number_integer()) << p;
  }
}

TEST_F(DropIn, MissingOrWrongKeyGetsDeepStacks401) {
  for (const std::string& key : {std::string(), std::string("wrong")}) {
    const Answer a = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/detection", dog(), key, "0.4"));
    EXPECT_EQ(a.status, 401) << a.raw;
    EXPECT_EQ(a.body.value("success", true), false) << a.raw;
    EXPECT_EQ(a.body.value("code", 0), 401) << a.raw;
    EXPECT_THAT(a.body.value("error", ""), HasSubstr(key.empty() ? "api_key" : "wrong API key"));
  }
}

TEST_F(DropIn, TheSameRequestWithoutAKeyWorksOnAServerWithout) {
  const Answer a = send(open_->port(), deepstack_python(open_->port(), "/v1/vision/detection", dog(), "", "0.45"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_THAT(labels_of(a.body), ::testing::IsSupersetOf({"dog", "bicycle"}));
  // A key sent to a server that wants none is ignored, as DeepStack does.
  const Answer b = send(open_->port(), deepstack_python(open_->port(), "/v1/vision/detection", dog(), "any", "0.45"));
  EXPECT_EQ(b.status, 200) << b.raw;
}

TEST_F(DropIn, EmptyMinConfidenceIsTheDefault) {
  const Answer empty = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/detection", dog(), kKey, ""));
  const Answer given = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/detection", dog(), kKey, "0.4"));
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(empty.body["predictions"], given.body["predictions"]);
  EXPECT_THAT(labels_of(empty.body), ::testing::Contains("car")) << "the 0.42 car is kept at 0.4";
}

TEST_F(DropIn, FrigateSessionSendsJpegsOnOneKeepAliveConnection) {
  const std::string boundary = "9f3c2b7e5d1a4c8b9e0f6a2d3c4b5a69";
  const std::string body = requests_multipart({{"api_key", "", "", kKey}, {"image", "image", "", dog()}}, boundary);
  const std::string request =
      requests_post(keyed_->port(), "/v1/vision/detection", "multipart/form-data; boundary=" + boundary, body);
  RawConnection conn(keyed_->port());
  std::vector<json> answers;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(conn.send(request)) << "the server closed the session after " << i << " requests";
    const Answer a = read_answer(conn);
    ASSERT_EQ(a.status, 200) << a.raw;
    EXPECT_THAT(a.raw, ::testing::Not(HasSubstr("Connection: close")));
    answers.push_back(a.body["predictions"]);
  }
  EXPECT_EQ(answers[0], answers[1]);
  EXPECT_EQ(answers[1], answers[2]);
}

TEST_F(DropIn, BlueIrisListsCustomModelsThenDetectsWithEach) {
  // Blue Iris posts the list with the key and nothing else.
  const Answer list = send(keyed_->port(), requests_post(keyed_->port(), "/v1/vision/custom/list",
                                                         "application/x-www-form-urlencoded",
                                                         std::string("api_key=") + kKey));
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body.value("success", false), true);
  EXPECT_EQ(list.body["models"], json({kModelName, "again", "tiny"}));

  std::map<std::string, json> found;
  for (const std::string name : list.body["models"]) {
    const Answer a = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/custom/" + name, dog(), kKey, "0.1"));
    ASSERT_EQ(a.status, 200) << name << ": " << a.raw;
    found[name] = a.body["predictions"];
  }
  EXPECT_EQ(found[kModelName], found["again"]) << "the same file under two names";
  EXPECT_NE(found[kModelName], found["tiny"]);
  // The tiny model's boxes are its two anchors on the 768x576 photo:
  // x 0..0.25, y 0..0.5 and x 0.5..1, y 0.5..1.
  ASSERT_FALSE(found["tiny"].empty()) << found["tiny"];
  for (const json& p : found["tiny"]) {
    const std::vector<int> box = {p["x_min"], p["y_min"], p["x_max"], p["y_max"]};
    EXPECT_THAT(box, ::testing::AnyOf(::testing::ElementsAre(0, 0, 192, 288), ::testing::ElementsAre(384, 288, 768, 576)))
        << p;
  }
  // The list without a key is refused like detection.
  const Answer refused = send(keyed_->port(), requests_post(keyed_->port(), "/v1/vision/custom/list", "", ""));
  EXPECT_EQ(refused.status, 401) << refused.raw;
  EXPECT_EQ(refused.body.value("success", true), false);
}

TEST_F(DropIn, UnknownCustomModelIs404InDeepStacksShape) {
  const Answer a = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/custom/nope", dog(), kKey, "0.4"));
  EXPECT_EQ(a.status, 404) << a.raw;
  EXPECT_EQ(a.body.value("success", true), false);
  EXPECT_THAT(a.body.value("error", ""), HasSubstr("again, tiny"));
}

TEST_F(DropIn, ApiDetectPicksAModelByName) {
  auto c = keyed_->client();
  const httplib::Headers key = {{"X-API-Key", kKey}};
  auto tiny = c->Post("/api/detect?model=tiny&threshold=0", key, dog(), "image/jpeg");
  ASSERT_TRUE(tiny);
  ASSERT_EQ(tiny->status, 200) << tiny->body;
  EXPECT_EQ(json::parse(tiny->body)["results"][0]["detections"].size(), 2u);
  auto missing = c->Post("/api/detect?model=nope", key, dog(), "image/jpeg");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  const json err = json::parse(missing->body);
  EXPECT_FALSE(err.contains("success")) << "/api/detect's own error shape";
  EXPECT_EQ(err.value("code", 0), 404);
  auto model = c->Get("/api/model");
  ASSERT_TRUE(model);
  const json info = json::parse(model->body);
  ASSERT_EQ(info["models"].size(), 3u);
  EXPECT_EQ(info.value("name", ""), kModelName) << "the default model's facts stay at the top";
  EXPECT_EQ(info["models"][2].value("name", ""), "tiny");
  EXPECT_EQ(info["models"][2]["input"].value("width", 0), 2);
}

TEST_F(DropIn, CodeProjectAiFieldsAndItsLoneUploadOfAnotherName) {
  const std::string boundary = "cpai0b1c2d3e4f5a6b7c8d9e0f1a2b3c4";
  const std::string body =
      requests_multipart({{"api_key", "", "", kKey}, {"upload", "dog.jpg", "image/jpeg", dog()}}, boundary);
  std::set<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    const Answer a = send(keyed_->port(), requests_post(keyed_->port(), "/v1/vision/detection",
                                                        "multipart/form-data; boundary=" + boundary, body));
    ASSERT_EQ(a.status, 200) << a.raw;
    const json& j = a.body;
    EXPECT_EQ(j.value("count", -1), static_cast<int>(j["predictions"].size()));
    EXPECT_THAT(j.value("message", ""), ::testing::StartsWith("Found dog"));
    for (const char* k : {"inferenceMs", "processMs", "analysisRoundTripMs", "duration", "code"})
      EXPECT_TRUE(j[k].is_number_integer()) << k << ": " << j;
    EXPECT_EQ(j.value("code", 0), 200);
    EXPECT_GE(j.value("analysisRoundTripMs", -1), j.value("processMs", -1) - 1);
    EXPECT_EQ(j.value("moduleId", ""), "lookout");
    EXPECT_EQ(j.value("command", ""), "detect");
    EXPECT_EQ(j.value("inferenceDevice", ""), "CPU");
    EXPECT_EQ(j.value("canUseGPU", true), false);
    EXPECT_FALSE(j.value("executionProvider", "").empty());
    EXPECT_FALSE(j.value("moduleName", "").empty());
    const std::string id = j.value("requestId", "");
    EXPECT_TRUE(fits(id, "xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx")) << id << " is not a version 4 UUID";
    const std::string stamp = j.value("timestampUTC", "");
    EXPECT_TRUE(fits(stamp, "Aaa, 99 Aaa 9999 99:99:99 GMT")) << stamp << " is not RFC 1123";
    ids.insert(j.value("requestId", ""));
  }
  EXPECT_EQ(ids.size(), 2u) << "a request id is per request";
}

TEST_F(DropIn, AnImagePartWithoutFilenameOrTypeIsSniffed) {
  const std::string boundary = "nofilename0123456789abcdef01234567";
  const std::string body = requests_multipart({{"api_key", "", "", kKey}, {"image", "", "", dog()}}, boundary);
  const Answer a = send(keyed_->port(), requests_post(keyed_->port(), "/v1/vision/detection",
                                                      "multipart/form-data; boundary=" + boundary, body));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_THAT(labels_of(a.body), ::testing::Contains("dog"));
  // A lone field of another name is taken when it holds an image.
  const std::string other =
      requests_multipart({{"api_key", "", "", kKey}, {"file", "", "", read_file(kGiraffe)}}, boundary);
  const Answer b = send(keyed_->port(), requests_post(keyed_->port(), "/v1/vision/detection",
                                                      "multipart/form-data; boundary=" + boundary, other));
  ASSERT_EQ(b.status, 200) << b.raw;
  EXPECT_THAT(labels_of(b.body), ::testing::Contains("giraffe"));
}

TEST_F(DropIn, TheBodyIsCappedBeforeTheKeyIsKnown) {
  // 5 MiB of "image" and no key: --max-body-mb 4 refuses it (413) without
  // reading it all into memory first.
  const Answer a = send(keyed_->port(),
                        deepstack_python(keyed_->port(), "/v1/vision/detection", std::string(5 << 20, 'x'), "", "0.4"));
  EXPECT_EQ(a.status, 413) << a.raw.substr(0, 300);
  EXPECT_EQ(a.body.value("success", true), false);
}

TEST_F(DropIn, StatusPingsAnswerSuccess) {
  auto c = keyed_->client();
  for (const char* path : {"/v1/server/status/ping", "/v1/status/ping"}) {
    auto res = c->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(json::parse(res->body), json({{"success", true}})) << path;
  }
}

TEST_F(DropIn, MetricsCountEachModelApart) {
  const Answer a = send(keyed_->port(), deepstack_python(keyed_->port(), "/v1/vision/custom/tiny", dog(), kKey, "0.4"));
  ASSERT_EQ(a.status, 200) << a.raw;
  auto res = keyed_->client()->Get("/metrics");
  ASSERT_TRUE(res);
  const auto ex = prom::parse(res->body);
  EXPECT_GE(ex.value("lookout_images_total", {{"model", "tiny"}, {"status", "ok"}}).value_or(0), 1);
  EXPECT_TRUE(ex.value("lookout_queue_depth", {{"model", "again"}}).has_value());
  EXPECT_TRUE(ex.value("lookout_inference_duration_seconds_count", {{"model", kModelName}}).has_value());
}

}  // namespace
}  // namespace lookout::server_test
