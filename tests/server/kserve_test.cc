// KServe V2 / Open Inference Protocol against one real `lookout serve` on a
// loopback port: server and model metadata, model readiness, and inference
// with the model's own tensor (a real photo decoded and resized here as the
// detector does it) and with the photo's JPEG bytes, both checked against
// POST /api/detect and `lookout detect` on the same photo; requested outputs, the labelled
// detections, every refusal the protocol names (400, 404, 405), the API
// key, and the /metrics route labels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "image/image.h"
#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::string kModel = "mobilenet_ssd_v2_coco_quant_postprocess";
const std::string kInput = "normalized_input_image_tensor";
const std::string kBoxes = "TFLite_Detection_PostProcess";
const std::string kClasses = "TFLite_Detection_PostProcess:1";
const std::string kScores = "TFLite_Detection_PostProcess:2";
const std::string kCount = "TFLite_Detection_PostProcess:3";
const std::string kInfer = "/v2/models/" + kModel + "/infer";
constexpr int kSide = 300;  // the model input: [1,300,300,3]

// The photo as the detector feeds it to the model: decoded at the smallest
// JPEG scale covering the input, upright, stretched to 300x300.
std::vector<uint8_t> model_input(const std::string& jpeg) {
  image::DecodeOptions options;
  options.min_width = kSide;
  options.min_height = kSide;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size());
  return image::resize_bilinear(image::decode(bytes, options).image, kSide, kSide).rgb;
}

json tensor_request(const json& data, const json& shape = {1, kSide, kSide, 3}) {
  return {{"id", "tensor-1"},
          {"inputs", {{{"name", kInput}, {"shape", shape}, {"datatype", "UINT8"}, {"data", data}}}},
          {"parameters", {{"lookout_detections", true}}}};
}

json bytes_request(const std::string& jpeg) {
  return {{"inputs", {{{"name", kInput}, {"shape", {1}}, {"datatype", "BYTES"}, {"data", {base64(jpeg)}}}}},
          {"parameters", {{"lookout_detections", true}}}};
}

const json& output(const json& response, const std::string& name) {
  for (const json& o : response.at("outputs"))
    if (o.at("name") == name) return o;
  throw std::runtime_error("no output " + name + " in " + response.dump().substr(0, 300));
}

// The labelled detections `lookout detect` finds in `photo`, in-process.
json cli_detections(const fs::path& photo) {
  const CommandResult r = run_command("cd " + shell_quote(kRoot.string()) + " && " + shell_quote(LOOKOUT_BINARY) +
                                      " detect --format json " + shell_quote(photo.string()) + " 2>/dev/null");
  EXPECT_EQ(r.status, 0) << r.out;
  const json doc = json::parse(r.out, nullptr, false);
  if (doc.is_discarded()) return json::array();
  return doc.at("images")[0].at("detections");
}

// The binary tensor data extension: the JSON, then `binary`.
httplib::Result post_binary(ServerProcess& server, const json& request, const std::string& binary) {
  const std::string text = request.dump();
  return server.client()->Post(kInfer, {{"Inference-Header-Content-Length", std::to_string(text.size())}},
                               text + binary, "application/octet-stream");
}

// A response of the extension: its JSON, and the bytes of each binary output by name.
struct BinaryAnswer {
  json body;
  std::map<std::string, std::string> data;
};

BinaryAnswer read_binary(const httplib::Response& res) {
  BinaryAnswer a;
  const size_t json_length = std::stoul(res.get_header_value("Inference-Header-Content-Length"));
  a.body = json::parse(res.body.substr(0, json_length));
  size_t at = json_length;
  for (const json& o : a.body.at("outputs")) {
    if (!o.contains("parameters") || !o["parameters"].contains("binary_data_size")) continue;
    EXPECT_FALSE(o.contains("data")) << o.dump();
    const size_t size = o["parameters"]["binary_data_size"].get<size_t>();
    a.data[o.at("name").get<std::string>()] = res.body.substr(at, size);
    at += size;
  }
  EXPECT_EQ(at, res.body.size());
  return a;
}

std::vector<float> floats_of(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// BYTES elements in binary: a 4-byte little-endian length, then the bytes.
std::string length_prefixed(const std::string& element) {
  const auto n = static_cast<uint32_t>(element.size());
  return std::string(reinterpret_cast<const char*>(&n), 4) + element;
}

std::vector<std::string> strings_of(const std::string& bytes) {
  std::vector<std::string> out;
  for (size_t at = 0; at + 4 <= bytes.size();) {
    uint32_t n = 0;
    std::memcpy(&n, bytes.data() + at, 4);
    out.push_back(bytes.substr(at + 4, n));
    at += 4 + n;
  }
  return out;
}

// The labelled detections of a response (its lookout_detections output).
json detections_of(const json& response) {
  json out = json::array();
  for (const json& text : output(response, "lookout_detections").at("data")) out.push_back(json::parse(text.get<std::string>()));
  return out;
}

// Same objects: class ids and labels equal, scores and normalized boxes
// within float noise (the same bytes reach the same engine).
void expect_same_detections(const json& kserve, const json& api) {
  ASSERT_EQ(kserve.size(), api.size()) << kserve.dump() << "\nvs\n" << api.dump();
  for (size_t i = 0; i < api.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(kserve[i].at("class_id"), api[i].at("class_id"));
    EXPECT_EQ(kserve[i].at("label"), api[i].at("label"));
    EXPECT_NEAR(kserve[i].at("score").get<double>(), api[i].at("score").get<double>(), 1e-6);
    for (const char* k : {"xmin", "ymin", "xmax", "ymax"})
      EXPECT_NEAR(kserve[i]["box"].at(k).get<double>(), api[i]["box"].at(k).get<double>(), 1e-6) << k;
  }
}

// The four raw outputs: FP32, 20 rows as the model wrote them, and their
// rows above `threshold` are the labelled detections.
void expect_raw_outputs(const json& response, const json& detections, double threshold) {
  const json& boxes = output(response, kBoxes);
  const json& classes = output(response, kClasses);
  const json& scores = output(response, kScores);
  const json& count = output(response, kCount);
  for (const json* o : {&boxes, &classes, &scores, &count}) EXPECT_EQ(o->at("datatype"), "FP32");
  EXPECT_EQ(boxes.at("shape"), json({1, 20, 4}));
  EXPECT_EQ(classes.at("shape"), json({1, 20}));
  EXPECT_EQ(scores.at("shape"), json({1, 20}));
  EXPECT_EQ(count.at("shape"), json({1}));
  ASSERT_EQ(boxes.at("data").size(), 80u);
  ASSERT_EQ(classes.at("data").size(), 20u);
  ASSERT_EQ(scores.at("data").size(), 20u);
  const int n = count.at("data")[0].get<int>();
  EXPECT_GT(n, 0);
  EXPECT_LE(n, 20);
  size_t above = 0;
  for (int i = 0; i < n; ++i) {
    if (scores["data"][i].get<double>() < threshold) continue;
    ASSERT_LT(above, detections.size());
    // The post-process writes rows best first, as the detections are sorted.
    const json& d = detections[above++];
    EXPECT_EQ(classes["data"][i].get<double>(), d.at("class_id").get<double>());
    EXPECT_NEAR(scores["data"][i].get<double>(), d.at("score").get<double>(), 1e-6);
    EXPECT_NEAR(boxes["data"][4 * i + 0].get<double>(), d["box"].at("ymin").get<double>(), 1e-6);
    EXPECT_NEAR(boxes["data"][4 * i + 1].get<double>(), d["box"].at("xmin").get<double>(), 1e-6);
  }
  EXPECT_EQ(above, detections.size());
}

class KServeTest : public SharedServerTest {
 protected:
  static void SetUpTestSuite() { start(ServerOptions{{"--workers", "2"}, {}, false, {}}); }

  static httplib::Result post(const std::string& path, const std::string& body) {
    return server_->client()->Post(path, body, "application/json");
  }
  // The labelled detections /api/detect finds in `jpeg`.
  static json api_detections(const std::string& jpeg) {
    auto res = server_->client()->Post("/api/detect", jpeg, "image/jpeg");
    EXPECT_TRUE(res && res->status == 200);
    return json::parse(res->body).at("results")[0].at("detections");
  }
  static void expect_refused(const httplib::Result& res, int status, const std::string& mentions) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_THAT(body.value("error", ""), HasSubstr(mentions));
  }
};

TEST_F(KServeTest, ServerMetadataNamesLookoutAndItsVersion) {
  auto res = server_->client()->Get("/v2");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const json m = json::parse(res->body);
  EXPECT_EQ(m.at("name"), "lookout");
  EXPECT_FALSE(m.at("version").get<std::string>().empty());
  EXPECT_EQ(m.at("extensions"), json({"binary_tensor_data"}));
}

TEST_F(KServeTest, ModelMetadataReadFromTheModel) {
  for (const std::string& path : {"/v2/models/" + kModel, "/v2/models/" + kModel + "/versions/1"}) {
    SCOPED_TRACE(path);
    auto res = server_->client()->Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    const json m = json::parse(res->body);
    EXPECT_EQ(m.at("name"), kModel);
    EXPECT_EQ(m.at("versions"), json({"1"}));
    EXPECT_EQ(m.at("platform"), "tflite");
    EXPECT_EQ(m.at("inputs"), json::parse(R"([{"name":")" + kInput + R"(","datatype":"UINT8","shape":[1,300,300,3]}])"));
    const json outputs = json::array({{{"name", kBoxes}, {"datatype", "FP32"}, {"shape", {1, 20, 4}}},
                                      {{"name", kClasses}, {"datatype", "FP32"}, {"shape", {1, 20}}},
                                      {{"name", kScores}, {"datatype", "FP32"}, {"shape", {1, 20}}},
                                      {{"name", kCount}, {"datatype", "FP32"}, {"shape", {1}}}});
    EXPECT_EQ(m.at("outputs"), outputs);
  }
}

TEST_F(KServeTest, ModelReadyInTheStatusAndTheBody) {
  for (const std::string& path : {"/v2/models/" + kModel + "/ready", "/v2/models/" + kModel + "/versions/1/ready"}) {
    auto res = server_->client()->Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(json::parse(res->body), json({{"name", kModel}, {"ready", true}}));
  }
}

TEST_F(KServeTest, UnknownModelOrVersionIs404) {
  auto c = server_->client();
  expect_refused(c->Get("/v2/models/yolo"), 404, "unknown model 'yolo': served are '" + kModel + "'");
  expect_refused(c->Get("/v2/models/yolo/ready"), 404, "unknown model 'yolo'");
  expect_refused(c->Get("/v2/models/" + kModel + "/versions/2"), 404, "has no version '2'");
  expect_refused(post("/v2/models/yolo/infer", bytes_request(read_file(kDog)).dump()), 404, "unknown model 'yolo'");
  expect_refused(post("/v2/models/" + kModel + "/versions/7/infer", bytes_request(read_file(kDog)).dump()), 404,
                 "has no version '7'");
}

TEST_F(KServeTest, WrongMethodIs405WithAllow) {
  auto c = server_->client();
  auto get = c->Get(kInfer);
  expect_refused(get, 405, "use POST");
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  for (const std::string& path : {std::string("/v2"), "/v2/models/" + kModel, "/v2/models/" + kModel + "/ready"}) {
    auto res = post(path, "{}");
    expect_refused(res, 405, "use GET");
    EXPECT_EQ(res->get_header_value("Allow"), "GET") << path;
  }
}

TEST_F(KServeTest, ImageBytesGiveTheDetectionsOfApiDetect) {
  const std::string jpeg = read_file(kDog);
  auto res = post(kInfer, bytes_request(jpeg).dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json r = json::parse(res->body);
  EXPECT_EQ(r.at("model_name"), kModel);
  EXPECT_EQ(r.at("model_version"), "1");
  EXPECT_FALSE(r.contains("id"));
  ASSERT_EQ(r.at("outputs").size(), 5u);
  const json detections = detections_of(r);
  expect_same_detections(detections, api_detections(jpeg));
  expect_same_detections(detections, cli_detections(kDog));
  for (const json& d : detections) EXPECT_NEAR(d.at("box_px").at("xmax").get<double>(), d["box"]["xmax"].get<double>() * 768, 1e-3);
  expect_raw_outputs(r, detections, 0.5);
}

TEST_F(KServeTest, TheModelTensorGivesTheDetectionsOfApiDetect) {
  for (const fs::path& photo : {kDog, kGiraffe}) {
    SCOPED_TRACE(photo.string());
    const std::string jpeg = read_file(photo);
    const std::vector<uint8_t> rgb = model_input(jpeg);
    ASSERT_EQ(rgb.size(), size_t{kSide} * kSide * 3);
    auto res = post(kInfer, tensor_request(rgb).dump());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 400);
    const json r = json::parse(res->body);
    EXPECT_EQ(r.at("id"), "tensor-1");
    const json detections = detections_of(r);
    EXPECT_FALSE(detections.empty());
    expect_same_detections(detections, api_detections(jpeg));
    expect_same_detections(detections, cli_detections(photo));
    // Pixels of the tensor given: 300x300.
    for (const json& d : detections) EXPECT_NEAR(d.at("box_px").at("xmax").get<double>(), d["box"]["xmax"].get<double>() * kSide, 1e-3);
    expect_raw_outputs(r, detections, 0.5);
  }
}

TEST_F(KServeTest, NestedTensorDataIsTheSameTensor) {
  const std::vector<uint8_t> rgb = model_input(read_file(kGiraffe));
  json rows = json::array();  // [1][300][300][3]
  for (int y = 0; y < kSide; ++y) {
    json row = json::array();
    for (int x = 0; x < kSide; ++x) {
      const size_t at = (static_cast<size_t>(y) * kSide + static_cast<size_t>(x)) * 3;
      row.push_back({rgb[at], rgb[at + 1], rgb[at + 2]});
    }
    rows.push_back(std::move(row));
  }
  auto nested = post(kInfer, tensor_request(json::array({rows})).dump());
  auto flat = post(kInfer, tensor_request(rgb).dump());
  ASSERT_TRUE(nested && flat);
  ASSERT_EQ(nested->status, 200) << nested->body.substr(0, 300);
  EXPECT_EQ(json::parse(nested->body).at("outputs"), json::parse(flat->body).at("outputs"));
}

TEST_F(KServeTest, RequestedOutputsThresholdAndDetectionsByName) {
  json req = bytes_request(read_file(kDog));
  req["parameters"] = {{"threshold", 0.9}};
  req["outputs"] = {{{"name", kScores}}, {{"name", "lookout_detections"}}, {{"name", kCount}}};
  auto res = post(kInfer, req.dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json r = json::parse(res->body);
  ASSERT_EQ(r.at("outputs").size(), 3u);
  EXPECT_EQ(r["outputs"][0].at("name"), kScores);
  EXPECT_EQ(r["outputs"][1].at("name"), "lookout_detections");
  EXPECT_EQ(r["outputs"][2].at("name"), kCount);
  for (const json& d : detections_of(r)) EXPECT_GE(d.at("score").get<double>(), 0.9);
  EXPECT_LT(detections_of(r).size(), api_detections(read_file(kDog)).size());

  json plain = bytes_request(read_file(kDog));
  plain.erase("parameters");
  auto res2 = post(kInfer, plain.dump());
  ASSERT_TRUE(res2);
  const json r2 = json::parse(res2->body);
  ASSERT_EQ(r2.at("outputs").size(), 4u);  // the model's outputs only
  for (const json& o : r2["outputs"]) EXPECT_NE(o.at("name"), "lookout_detections");
}

TEST_F(KServeTest, BadRequestsAre400NamingTheProblem) {
  const std::vector<uint8_t> rgb(size_t{kSide} * kSide * 3, 7);
  expect_refused(post(kInfer, "{\"inputs\":["), 400, "malformed JSON");
  expect_refused(post(kInfer, tensor_request(std::vector<uint8_t>(kSide * kSide), {1, kSide, kSide}).dump()), 400,
                 "has shape [1,300,300]; UINT8 takes [1,300,300,3]");
  expect_refused(post(kInfer, tensor_request(std::vector<uint8_t>(5)).dump()), 400,
                 "inputs[0]: \"data\" holds 5 elements; shape [1,300,300,3] needs 270000");
  json range = tensor_request(rgb);
  range["inputs"][0]["data"][1234] = 256;
  expect_refused(post(kInfer, range.dump()), 400, "\"data\"[1234] = 256 is not a whole number in UINT8's range 0..255");
  json fp32 = tensor_request(rgb);
  fp32["inputs"][0]["datatype"] = "FP32";
  expect_refused(post(kInfer, fp32.dump()), 400, "has datatype FP32; send UINT8 [1,300,300,3]");
  json name = bytes_request(read_file(kDog));
  name["inputs"][0]["name"] = "image";
  expect_refused(post(kInfer, name.dump()), 400, "unknown input 'image': the model's input is '" + kInput + "'");
  json two = bytes_request(read_file(kDog));
  two["inputs"].push_back(two["inputs"][0]);
  expect_refused(post(kInfer, two.dump()), 400, "the model takes one input");
  json out = bytes_request(read_file(kDog));
  out["outputs"] = {{{"name", "logits"}}};
  expect_refused(post(kInfer, out.dump()), 400, "unknown output 'logits'");
  json b64 = bytes_request("");
  b64["inputs"][0]["data"] = {"not base64!"};
  expect_refused(post(kInfer, b64.dump()), 400, "inputs[0].data[0]: invalid base64");
  expect_refused(post(kInfer, bytes_request("not an image at all").dump()), 400, "");
  json threshold = bytes_request(read_file(kDog));
  threshold["parameters"]["threshold"] = 2;
  expect_refused(post(kInfer, threshold.dump()), 400, "\"threshold\" must be a number between 0 and 1");
  json flag = bytes_request(read_file(kDog));
  flag["parameters"]["lookout_detections"] = "yes";
  expect_refused(post(kInfer, flag.dump()), 400, "\"lookout_detections\" must be true or false");
}

TEST_F(KServeTest, BinaryTensorInputAndOutputAsTritonClientsSendThem) {
  const std::vector<uint8_t> rgb = model_input(read_file(kDog));
  json req = tensor_request(json::array());
  req["inputs"][0].erase("data");
  req["inputs"][0]["parameters"] = {{"binary_data_size", rgb.size()}};
  req["outputs"] = {{{"name", kScores}, {"parameters", {{"binary_data", true}}}}, {{"name", "lookout_detections"}}};
  auto res = post_binary(*server_, req, std::string(rgb.begin(), rgb.end()));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/octet-stream");
  const BinaryAnswer binary = read_binary(*res);
  ASSERT_EQ(binary.body.at("outputs").size(), 2u);
  EXPECT_EQ(binary.body["outputs"][0]["parameters"]["binary_data_size"], 80);
  ASSERT_EQ(binary.data.count(kScores), 1u);

  auto plain = post(kInfer, tensor_request(rgb).dump());
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  const json expected = json::parse(plain->body);
  EXPECT_EQ(floats_of(binary.data.at(kScores)), output(expected, kScores).at("data").get<std::vector<float>>());
  EXPECT_EQ(binary.body["outputs"][1].at("data"), output(expected, "lookout_detections").at("data"));
}

TEST_F(KServeTest, BinaryImageBytesAndEveryOutputInBinary) {
  const std::string jpeg = read_file(kGiraffe);
  const json req = {{"inputs", {{{"name", kInput}, {"shape", {1}}, {"datatype", "BYTES"},
                                 {"parameters", {{"binary_data_size", jpeg.size() + 4}}}}}},
                    {"parameters", {{"binary_data_output", true}, {"lookout_detections", true}}}};
  auto res = post_binary(*server_, req, length_prefixed(jpeg));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  const BinaryAnswer binary = read_binary(*res);
  ASSERT_EQ(binary.data.size(), 5u);

  auto plain = post(kInfer, bytes_request(jpeg).dump());
  ASSERT_TRUE(plain);
  const json expected = json::parse(plain->body);
  for (const std::string& name : {kBoxes, kClasses, kScores, kCount})
    EXPECT_EQ(floats_of(binary.data.at(name)), output(expected, name).at("data").get<std::vector<float>>()) << name;
  EXPECT_EQ(strings_of(binary.data.at("lookout_detections")),
            output(expected, "lookout_detections").at("data").get<std::vector<std::string>>());
  EXPECT_FALSE(strings_of(binary.data.at("lookout_detections")).empty());
}

TEST_F(KServeTest, BinaryDataOfTheWrongSizeIs400) {
  const std::string jpeg = read_file(kGiraffe);
  json bytes = bytes_request(jpeg);
  bytes["inputs"][0].erase("data");
  bytes["inputs"][0]["parameters"] = {{"binary_data_size", jpeg.size() + 4}};
  auto c = server_->client();
  expect_refused(c->Post(kInfer, {{"Inference-Header-Content-Length", "999999"}}, bytes.dump(), "application/json"),
                 400, "Inference-Header-Content-Length '999999' must be a whole number of bytes within the body");
  expect_refused(post_binary(*server_, bytes, length_prefixed(jpeg) + "extra"), 400,
                 "has binary_data_size " + std::to_string(jpeg.size() + 4) + "; the body has " +
                     std::to_string(jpeg.size() + 9) + " bytes after the JSON");
  expect_refused(post_binary(*server_, bytes, std::string(4, '\xff') + jpeg), 400, "4-byte little-endian length");
  expect_refused(post_binary(*server_, bytes_request(jpeg), "tail"), 400,
                 "4 bytes follow the JSON, but no input has the parameter \"binary_data_size\"");
  json rgb = tensor_request(json::array());
  rgb["inputs"][0].erase("data");
  rgb["inputs"][0]["parameters"] = {{"binary_data_size", 1000}};
  expect_refused(post_binary(*server_, rgb, std::string(1000, '\x10')), 400,
                 "has binary_data_size 1000; shape [1,300,300,3] of UINT8 needs 270000");
}

TEST_F(KServeTest, MetricsLabelTheRoutesByPattern) {
  auto c = server_->client();
  ASSERT_TRUE(c->Get("/v2"));
  ASSERT_TRUE(c->Get("/v2/models/" + kModel + "/versions/1"));
  ASSERT_TRUE(c->Get("/v2/models/" + kModel + "/ready"));
  ASSERT_TRUE(post(kInfer, bytes_request(read_file(kGiraffe)).dump()));
  auto res = c->Get("/metrics");
  ASSERT_TRUE(res);
  for (const char* route : {"/v2", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer"})
    EXPECT_THAT(res->body, HasSubstr(std::string("route=\"") + route + "\",code=\"200\"")) << route;
  EXPECT_THAT(res->body, ::testing::Not(HasSubstr("route=\"/v2/models/" + kModel)));
}

TEST(KServeApiKey, InferenceNeedsTheKeyMetadataDoesNot) {
  const std::string key = "kserve-secret";
  ServerProcess server(ServerOptions{{"--workers", "1", "--api-key", key}, {}, false, {}});
  auto c = server.client();
  const std::string body = bytes_request(read_file(kGiraffe)).dump();
  auto refused = c->Post(kInfer, body, "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto wrong = c->Post(kInfer, {{"Authorization", "Bearer nope"}}, body, "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto ok = c->Post(kInfer, {{"Authorization", "Bearer " + key}}, body, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto metadata = c->Get("/v2/models/" + kModel);
  ASSERT_TRUE(metadata);
  EXPECT_EQ(metadata->status, 200);
}

TEST(KServeModels, EachServedModelByItsName) {
  const std::string file = (kRoot / "models" / (kModel + ".tflite")).string();
  ServerProcess server(ServerOptions{{"--workers", "2", "--model", "front=" + file, "--model", "back=" + file}, {}, false, {}});
  auto c = server.client();
  for (const std::string& name : {std::string("front"), std::string("back")}) {
    SCOPED_TRACE(name);
    auto metadata = c->Get("/v2/models/" + name);
    ASSERT_TRUE(metadata);
    ASSERT_EQ(metadata->status, 200);
    EXPECT_EQ(json::parse(metadata->body).at("name"), name);
    auto ready = c->Get("/v2/models/" + name + "/ready");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
    auto res = c->Post("/v2/models/" + name + "/infer", bytes_request(read_file(kDog)).dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body).at("model_name"), name);
    EXPECT_FALSE(detections_of(json::parse(res->body)).empty());
  }
  auto unknown = c->Get("/v2/models/" + kModel);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("served are 'front', 'back'"));
}

}  // namespace
}  // namespace lookout::server_test
