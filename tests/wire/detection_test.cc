// The detection result's wire forms against hand-written golden files
// (tests/wire/golden/): each is read into its type, checked field by field,
// and written back byte for byte; the csv and coco forms are derived from
// the jsonl golden and must equal theirs.
#include <gtest/gtest.h>

#include "wire/detection.h"
#include "wire/golden.h"

namespace lookout::wire {
namespace {

using namespace lookout::wire::testing;

TEST(ApiResponse, GoldenReadsIntoTheTypeAndWritesBackByteForByte) {
  const std::vector<std::string> lines = golden_lines("api_detect.json");
  ASSERT_EQ(lines.size(), 1u);
  const ApiResponse r = round_trip<ApiResponse>(lines[0]);
  ASSERT_EQ(r.results.size(), 2u);
  const ApiImage& dog = r.results[0];
  EXPECT_EQ(dog.id, "dog.jpg");
  EXPECT_EQ(dog.status, 200);
  EXPECT_EQ(dog.width, 768);
  ASSERT_EQ(dog.detections.size(), 1u);
  EXPECT_EQ(dog.detections[0].class_id, 17);
  EXPECT_EQ(dog.detections[0].score, 0.97265625f);
  EXPECT_EQ(dog.detections[0].box.xmin, 0.16257532f);
  ASSERT_TRUE(dog.detections[0].box_px.has_value());
  EXPECT_EQ(dog.detections[0].box_px->ymax, 542.6596f);
  EXPECT_EQ(dog.timing.upload, 0.403);
  EXPECT_EQ(dog.timing.queue, 0.027);
  EXPECT_FALSE(dog.timing.round_trip.has_value()) << "a server does not know the client's round trip";
  EXPECT_FALSE(dog.error.has_value());
  EXPECT_EQ(r.results[1].status, 400);
  EXPECT_EQ(r.results[1].error, "not a JPEG or PNG image");
  EXPECT_EQ(r.summary.failed, 1);
  EXPECT_FALSE(r.error.has_value());
}

TEST(ApiResponse, ARefusedSingleImageCarriesItsErrorAndCode) {
  const ApiResponse r = round_trip<ApiResponse>(golden_lines("api_detect_refused.json").at(0));
  EXPECT_EQ(r.error, "not a JPEG or PNG image");
  EXPECT_EQ(r.code, 400);
}

TEST(ApiResponse, RefusalsNameTheField) {
  EXPECT_EQ(refusal<ApiResponse>("[]"), "the answer must be a JSON object, not array");
  EXPECT_EQ(refusal<ApiResponse>(R"({"summary":{}})"), "\"results\" is missing");
  EXPECT_EQ(refusal<ApiResponse>(R"({"results":[{"id":"a"}]})"), "\"results\": \"status\" is missing");
  EXPECT_EQ(refusal<ApiResponse>(R"({"results":[{"status":"ok"}]})"),
            "\"results\": \"status\" must be a number, not string");
  EXPECT_EQ(refusal<ApiResponse>(R"({"results":[{"status":200.5}]})"),
            "\"results\": \"status\" must be a whole number in range, not 200.5");
  EXPECT_EQ(refusal<ApiResponse>(R"({"results":[{"status":1e300}]})"),
            "\"results\": \"status\" must be a whole number in range, not 1e+300");
  EXPECT_EQ(refusal<ApiResponse>(R"({"results":[{"status":200,"detections":[{"class_id":1,"score":0.5}]}]})"),
            "\"results\": \"detections\": \"box\" is missing");
}

TEST(ApiImage, FromTheDetectorKeepsEveryStageAndAddsTheQueue) {
  detect::Result result;
  result.width = 640;
  result.height = 480;
  result.timing = {1.0, 2.0, 3.0, 4.0};
  result.detections.push_back({17, "dog", 0.5f, {0.1f, 0.2f, 0.3f, 0.4f}, {64, 96, 192, 192}});
  const ApiImage r = api_image("x.jpg", result, 0.5);
  EXPECT_EQ(r.timing.queue, 0.5);
  EXPECT_EQ(r.timing.total, 10.5) << "queue + the detector's four stages";
  EXPECT_EQ(r.detections.at(0).box_px, (Box{64, 96, 192, 192}));
  const DeepStackResponse ds = deepstack_response(r, 12.4);
  EXPECT_EQ(ds.process_ms, 10) << "processMs is the detector's own stages, without the queue";
  EXPECT_EQ(ds.inference_ms, 3);
  EXPECT_EQ(ds.round_trip_ms, 12);
  EXPECT_EQ(ds.predictions.at(0), (DeepStackPrediction{"dog", 0.5f, 64, 96, 192, 192}));
}

TEST(DeepStackResponse, GoldenRoundTripsWithCountFromThePredictions) {
  const DeepStackResponse r = round_trip<DeepStackResponse>(golden_lines("deepstack.json").at(0));
  ASSERT_EQ(r.predictions.size(), 2u);
  EXPECT_EQ(r.predictions[1].x_max, 725);
  EXPECT_EQ(r.inference_ms, 25);
  EXPECT_EQ(r.round_trip_ms, 30);
  EXPECT_EQ(r.message, "Found dog, car");
  EXPECT_EQ(r.request_id, "0f8e2c1a-5b7d-4e9f-a3c6-1d2b4e6f8a0c");
  EXPECT_EQ(r.timestamp_utc, "Wed, 02 Dec 2026 01:28:09 GMT");
}

TEST(DeepStackResponse, MessageNamesTheFirstDistinctLabels) {
  ApiImage image;
  for (const char* label : {"dog", "car", "dog", "bicycle", "person"})
    image.detections.push_back({0, label, 0.5f, {}, Box{}});
  EXPECT_EQ(deepstack_response(image, 1).message, "Found dog, car, bicycle...");
  image.detections.resize(2);
  EXPECT_EQ(deepstack_response(image, 1).message, "Found dog, car");
  image.detections.clear();
  EXPECT_EQ(deepstack_response(image, 1).message, "No objects found");
}

TEST(ModelCatalog, DefaultModelAtTheTopEveryModelInTheList) {
  ModelCatalog c;
  c.models = {{"coco", "ssd.tflite", 300, 300, 3, "xnnpack", 2}, {"tiny", "tiny.tflite", 2, 1, 3, "xnnpack", 1}};
  c.labels = {{0, "person"}, {17, "dog"}};
  const std::string text = dump(Json(c));
  EXPECT_EQ(text,
            R"({"name":"coco","model":"ssd.tflite","input":{"width":300,"height":300,"channels":3},"input_shape":[1,300,300,3],)"
            R"("backend":"xnnpack","workers":2,"models":[{"name":"coco","model":"ssd.tflite","input":{"width":300,"height":300,)"
            R"("channels":3},"input_shape":[1,300,300,3],"backend":"xnnpack","workers":2},{"name":"tiny","model":"tiny.tflite",)"
            R"("input":{"width":2,"height":1,"channels":3},"input_shape":[1,1,2,3],"backend":"xnnpack","workers":1}],)"
            R"("labels":[{"id":0,"name":"person"},{"id":17,"name":"dog"}]})");
  EXPECT_EQ(Json::parse(text).get<ModelCatalog>(), c);
  // A server of one model, from before "models" existed.
  const ModelCatalog old = Json::parse(R"({"model":"ssd.tflite","input":{"width":300,"height":300},"workers":4})").get<ModelCatalog>();
  ASSERT_EQ(old.models.size(), 1u);
  EXPECT_EQ(old.models[0].workers, 4);
}

TEST(ErrorBody, DeepStackRouteLeadsWithSuccessFalse) {
  const ErrorBody ds = round_trip<ErrorBody>(golden_lines("deepstack_error.json").at(0));
  EXPECT_TRUE(ds.deepstack);
  EXPECT_EQ(ds.code, 401);
  const ErrorBody ours = round_trip<ErrorBody>(golden_lines("error.json").at(0));
  EXPECT_FALSE(ours.deepstack);
  EXPECT_EQ(ours.code, 503);
}

TEST(DetectedFile, JsonlGoldenRoundTripsLineByLine) {
  const std::vector<std::string> lines = golden_lines("detect.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  const DetectedFile dog = round_trip<DetectedFile>(lines[0]);
  EXPECT_EQ(dog.detections.size(), 2u);
  EXPECT_EQ(dog.detections[1].label, "car, \"red\"");
  EXPECT_FALSE(dog.timing.queue.has_value());
  const DetectedFile rotated = round_trip<DetectedFile>(lines[1]);
  EXPECT_EQ(rotated.orientation, 6);
  EXPECT_TRUE(rotated.detections.empty());
  const DetectedFile broken = round_trip<DetectedFile>(lines[2]);
  EXPECT_EQ(broken.error, "truncated JPEG: premature end of data segment");
}

TEST(DetectedFile, CsvAndCocoFormsCarryTheSameDetections) {
  std::string csv = csv_header();
  std::string coco;
  for (const std::string& line : golden_lines("detect.jsonl")) {
    const DetectedFile f = Json::parse(line).get<DetectedFile>();
    csv += csv_rows(f);
    for (const CocoResult& c : coco_results(7, f)) coco += dump(Json(c)) + "\n";
  }
  EXPECT_EQ(csv, read_golden("detect.csv"));
  EXPECT_EQ(coco, read_golden("detect.coco.jsonl"));
  for (const std::string& line : golden_lines("detect.coco.jsonl")) round_trip<CocoResult>(line);
}

}  // namespace
}  // namespace lookout::wire
