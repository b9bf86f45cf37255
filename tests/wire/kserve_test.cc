// The KServe V2 / Open Inference Protocol bodies against hand-written golden
// files (tests/wire/golden/kserve_*.json): each is read into its type,
// checked field by field, and written back byte for byte; nested tensor
// data reads as its flat form; every malformed tensor is refused with a
// message naming the field and the rule.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "wire/golden.h"
#include "wire/kserve.h"

namespace lookout::wire {
namespace {

using ::testing::HasSubstr;

using namespace lookout::wire::testing;

// The golden's one line, read as T and written back byte for byte.
template <typename T>
T golden(const std::string& name) {
  const std::vector<std::string> lines = golden_lines(name);
  EXPECT_EQ(lines.size(), 1u) << name;
  return round_trip<T>(lines.at(0));
}

// An inference request of one input with the given shape, datatype and data.
std::string request_with(const std::string& shape, const std::string& datatype, const std::string& data) {
  return R"({"inputs":[{"name":"x","shape":)" + shape + R"(,"datatype":")" + datatype + R"(","data":)" + data + "}]}";
}

TEST(KServeServerMetadata, GoldenRoundTrips) {
  const KServeServerMetadata m = golden<KServeServerMetadata>("kserve_server_metadata.json");
  EXPECT_EQ(m.name, "lookout");
  EXPECT_EQ(m.version, "0.1.0");
  EXPECT_EQ(m.extensions, std::vector<std::string>{"binary_tensor_data"});
}

TEST(KServeModelMetadata, GoldenRoundTrips) {
  const KServeModelMetadata m = golden<KServeModelMetadata>("kserve_model_metadata.json");
  EXPECT_EQ(m.name, "mobilenet_ssd_v2_coco_quant_postprocess");
  EXPECT_EQ(m.versions, std::vector<std::string>{"1"});
  EXPECT_EQ(m.platform, "tflite");
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0], (KServeTensorMetadata{"normalized_input_image_tensor", "UINT8", {1, 300, 300, 3}}));
  ASSERT_EQ(m.outputs.size(), 4u);
  EXPECT_EQ(m.outputs[0], (KServeTensorMetadata{"TFLite_Detection_PostProcess", "FP32", {1, 20, 4}}));
  EXPECT_EQ(m.outputs[3], (KServeTensorMetadata{"TFLite_Detection_PostProcess:3", "FP32", {1}}));
}

TEST(KServeModelMetadata, VariableDimensionsAreMinusOneAndNothingLess) {
  EXPECT_EQ(Json::parse(R"({"name":"x","datatype":"FP32","shape":[-1,4]})").get<KServeTensorMetadata>().shape,
            (std::vector<int64_t>{-1, 4}));
  EXPECT_THAT(refusal<KServeTensorMetadata>(R"({"name":"x","datatype":"FP32","shape":[-2]})"),
              HasSubstr("\"shape\" must hold whole numbers >= -1"));
}

TEST(KServeModelReady, GoldenRoundTrips) {
  const KServeModelReady r = golden<KServeModelReady>("kserve_model_ready.json");
  EXPECT_EQ(r.name, "mobilenet_ssd_v2_coco_quant_postprocess");
  EXPECT_TRUE(r.ready);
}

TEST(KServeInferRequest, GoldenRoundTrips) {
  const KServeInferRequest r = golden<KServeInferRequest>("kserve_infer_request.json");
  EXPECT_EQ(r.id, "42");
  EXPECT_EQ(r.parameters["lookout_detections"], true);
  EXPECT_EQ(r.parameters["threshold"], 0.4);
  ASSERT_EQ(r.inputs.size(), 1u);
  const KServeTensor& in = r.inputs[0];
  EXPECT_EQ(in.name, "normalized_input_image_tensor");
  EXPECT_EQ(in.shape, (std::vector<int64_t>{1, 2, 2, 3}));
  EXPECT_EQ(in.datatype, "UINT8");
  EXPECT_EQ(in.numbers, (std::vector<double>{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}));
  ASSERT_TRUE(r.outputs.has_value());
  ASSERT_EQ(r.outputs->size(), 2u);
  EXPECT_EQ((*r.outputs)[0].name, "TFLite_Detection_PostProcess:2");
  EXPECT_EQ((*r.outputs)[1].parameters["binary_data"], false);
}

TEST(KServeInferRequest, BytesGoldenRoundTrips) {
  const KServeInferRequest r = golden<KServeInferRequest>("kserve_infer_request_bytes.json");
  EXPECT_FALSE(r.id.has_value());
  EXPECT_FALSE(r.outputs.has_value());
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].datatype, "BYTES");
  EXPECT_EQ(r.inputs[0].strings, std::vector<std::string>{"/9j/4AAQSkZJRg=="});
  EXPECT_TRUE(r.inputs[0].numbers.empty());
}

TEST(KServeInferRequest, NestedDataReadsAsItsFlatRowMajorForm) {
  const auto nested = Json::parse(request_with("[2,2,2]", "INT8", "[[[1,2],[3,4]],[[5,6],[7,-8]]]"))
                          .get<KServeInferRequest>();
  const auto flat = Json::parse(request_with("[2,2,2]", "INT8", "[1,2,3,4,5,6,7,-8]")).get<KServeInferRequest>();
  EXPECT_EQ(nested, flat);
  EXPECT_EQ(nested.inputs[0].numbers, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, -8}));
}

TEST(KServeInferRequest, BoolDataIsTrueOrFalse) {
  const auto r = Json::parse(request_with("[3]", "BOOL", "[true,false,true]")).get<KServeInferRequest>();
  EXPECT_EQ(r.inputs[0].numbers, (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(dump(Json(r)), request_with("[3]", "BOOL", "[true,false,true]"));
  EXPECT_THAT(refusal<KServeInferRequest>(request_with("[1]", "BOOL", "[1]")),
              HasSubstr("inputs[0]: \"data\"[0] must be true or false (BOOL), not 1"));
}

TEST(KServeInferRequest, RefusesWhatTheProtocolDoesNotAllowNamingTheField) {
  const auto refused = [](const std::string& text) { return refusal<KServeInferRequest>(text); };
  EXPECT_THAT(refused(request_with("[1,2]", "UINT8", "[1,2,3]")),
              HasSubstr("inputs[0]: \"data\" holds 3 elements; shape [1,2] needs 2"));
  EXPECT_THAT(refused(request_with("[2]", "UINT8", "[1,256]")),
              HasSubstr("inputs[0]: \"data\"[1] = 256 is not a whole number in UINT8's range 0..255"));
  EXPECT_THAT(refused(request_with("[2]", "UINT8", "[-1,2]")), HasSubstr("\"data\"[0] = -1 is not a whole number"));
  EXPECT_THAT(refused(request_with("[1]", "INT32", "[1.5]")), HasSubstr("\"data\"[0] = 1.5 is not a whole number"));
  EXPECT_THAT(refused(request_with("[1]", "UINT8", R"(["7"])")),
              HasSubstr("\"data\"[0] must be a number (UINT8), not string"));
  EXPECT_THAT(refused(request_with("[1]", "BYTES", "[7]")), HasSubstr("\"data\"[0] must be a string (BYTES)"));
  EXPECT_THAT(refused(request_with("[1]", "FLOAT32", "[1]")),
              HasSubstr("inputs[0]: \"datatype\" 'FLOAT32' is not one of the protocol's"));
  EXPECT_THAT(refused(request_with("[-1]", "FP32", "[1]")), HasSubstr("inputs[0]: \"shape\" must hold whole numbers >= 0"));
  EXPECT_THAT(refused(request_with("[1.5]", "FP32", "[1]")), HasSubstr("\"shape\" must hold whole numbers"));
  EXPECT_THAT(refused(request_with("[1048576,1048576,2]", "FP32", "[1]")), HasSubstr("more than 2^40 elements"));
  EXPECT_THAT(refused(request_with("[1]", "FP32", "[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]")),
              HasSubstr("nested deeper than any shape"));
  EXPECT_THAT(refused(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})"), HasSubstr("\"data\" is missing"));
  EXPECT_THAT(refused(R"({"inputs":{}})"), HasSubstr("\"inputs\" must be an array"));
  EXPECT_THAT(refused(R"({})"), HasSubstr("\"inputs\" is missing"));
  EXPECT_THAT(refused(R"([])"), HasSubstr("an inference request must be a JSON object"));
  EXPECT_THAT(refused(R"({"id":7,"inputs":[]})"), HasSubstr("\"id\" must be a string"));
  EXPECT_THAT(refused(R"({"parameters":{"a":[1]},"inputs":[]})"),
              HasSubstr("parameter \"a\" must be a string, number or boolean, not array"));
  EXPECT_THAT(refused(R"({"inputs":[],"outputs":[{"parameters":{}}]})"), HasSubstr("outputs[0]: \"name\" is missing"));
}

TEST(KServeInferRequest, BinaryDataSizeStandsForTheData) {
  const std::string binary =
      R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"UINT8","parameters":{"binary_data_size":2}}]})";
  const auto r = Json::parse(binary).get<KServeInferRequest>();
  EXPECT_EQ(kserve_binary_size(r.inputs[0]), 2);
  EXPECT_TRUE(r.inputs[0].numbers.empty());
  EXPECT_EQ(dump(Json(r)), binary);  // written back without "data"
  EXPECT_EQ(kserve_binary_size(Json::parse(request_with("[1]", "UINT8", "[1]")).get<KServeInferRequest>().inputs[0]),
            std::nullopt);
  EXPECT_THAT(refusal<KServeInferRequest>(
                  R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[1],"parameters":{"binary_data_size":1}}]})"),
              HasSubstr("inputs[0]: \"data\" must be absent with the parameter \"binary_data_size\""));
  EXPECT_THAT(refusal<KServeInferRequest>(
                  R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":-4}}]})"),
              HasSubstr("parameter \"binary_data_size\" must be a whole number >= 0, not -4"));
}

TEST(KServeInferResponse, GoldenRoundTrips) {
  const KServeInferResponse r = golden<KServeInferResponse>("kserve_infer_response.json");
  EXPECT_EQ(r.model_name, "mobilenet_ssd_v2_coco_quant_postprocess");
  EXPECT_EQ(r.model_version, "1");
  EXPECT_EQ(r.id, "42");
  ASSERT_EQ(r.outputs.size(), 5u);
  EXPECT_EQ(r.outputs[0].shape, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(r.outputs[0].numbers[0], 0.1);  // FP32 written as the shortest text of the float
  EXPECT_EQ(r.outputs[2].numbers[0], 0.96);
  ASSERT_EQ(r.outputs[4].strings.size(), 1u);
  const Detection d = Json::parse(r.outputs[4].strings[0]).get<Detection>();
  EXPECT_EQ(d.label, "dog");
  EXPECT_EQ(d.class_id, 17);
}

TEST(KServeInferResponse, Fp32DataIsWrittenByTheOneRoundingRule) {
  KServeTensor t;
  t.name = "scores";
  t.shape = {2};
  t.datatype = "FP32";
  t.numbers = {static_cast<double>(0.96f), static_cast<double>(1.0f / 3.0f)};
  EXPECT_EQ(dump(Json(t)), R"({"name":"scores","shape":[2],"datatype":"FP32","data":[0.96,0.33333334]})");
}

TEST(KServeElements, CountsAndRefuses) {
  EXPECT_EQ(kserve_elements({1, 300, 300, 3}), 270000);
  EXPECT_EQ(kserve_elements({}), 1);
  EXPECT_EQ(kserve_elements({4, 0}), 0);
  EXPECT_THROW(kserve_elements({-1}), FormatError);
  EXPECT_TRUE(is_kserve_datatype("FP16"));
  EXPECT_FALSE(is_kserve_datatype("fp32"));  // case-sensitive, as the protocol says
}

}  // namespace
}  // namespace lookout::wire
