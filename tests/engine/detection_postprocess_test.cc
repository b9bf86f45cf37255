// TFLite_Detection_PostProcess: options parsing (FlexBuffer maps built here
// with flexbuffers::Builder, the model's own bytes, fuzzed buffers) and the
// reference kernel on hand-built inputs whose results are worked out by hand.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// As in detection_postprocess.cc: no libflatbuffers (locale) dependency.
#define FLATBUFFERS_LOCALE_INDEPENDENT 0
#include <flatbuffers/flexbuffers.h>

#include "engine/engine.h"
#include "engine/ops/detection_postprocess.h"
#include "engine/op_fixture.h"

namespace lookout::engine {
namespace {

using testing::OpFixture;

// ---------------------------------------------------------------------------
// Helpers.

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The SSD MobileNet V2 options, fast NMS.
PostProcessOptions ssd_options() {
  PostProcessOptions o;
  o.max_detections = 20;
  o.max_classes_per_detection = 1;
  o.detections_per_class = 100;
  o.use_regular_nms = false;
  o.nms_score_threshold = 1e-8f;
  o.nms_iou_threshold = 0.6f;
  o.num_classes = 90;
  o.y_scale = 10.0f;
  o.x_scale = 10.0f;
  o.h_scale = 5.0f;
  o.w_scale = 5.0f;
  return o;
}

PostProcessOptions small_options(int32_t max_detections, int32_t num_classes) {
  PostProcessOptions o = ssd_options();
  o.max_detections = max_detections;
  o.num_classes = num_classes;
  o.nms_score_threshold = 0.0f;
  o.nms_iou_threshold = 0.5f;
  return o;
}

// Anchor (ycenter, xcenter, h, w) with zero encodings decodes to exactly
// the box (ymin, xmin, ymax, xmax) when all of these are dyadic.
std::array<float, 4> anchor_for(float ymin, float xmin, float ymax, float xmax) {
  return {(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin};
}

struct PostProcessIo {
  int32_t encodings, predictions, anchors;
  int32_t boxes, classes, scores, num;
};

struct PostProcessResult {
  std::vector<std::array<float, 4>> boxes;
  std::vector<float> classes, scores;
  float num = -1.0f;
};

// Adds the op to f. Encodings [1, n, 4], predictions [1, n, columns], both
// of `type` (with the given quantization when uint8); anchors already added.
PostProcessIo add_postprocess(OpFixture& f, const PostProcessOptions& o, int32_t n, int32_t columns, DType type,
                              int32_t anchors, Quantization encodings_q = {}, Quantization scores_q = {}) {
  PostProcessIo io{};
  io.encodings = f.tensor(type, {1, n, 4}, encodings_q);
  io.predictions = f.tensor(type, {1, n, columns}, scores_q);
  io.anchors = anchors;
  const auto shapes = postprocess_output_shapes(o);
  io.boxes = f.tensor(DType::float32, shapes[0]);
  io.classes = f.tensor(DType::float32, shapes[1]);
  io.scores = f.tensor(DType::float32, shapes[2]);
  io.num = f.tensor(DType::float32, shapes[3]);
  f.op(OpKind::detection_postprocess, {io.encodings, io.predictions, io.anchors},
       {io.boxes, io.classes, io.scores, io.num}, o);
  return io;
}

int32_t float_anchors(OpFixture& f, const std::vector<std::array<float, 4>>& anchors) {
  std::vector<float> flat;
  for (const auto& a : anchors) flat.insert(flat.end(), a.begin(), a.end());
  return f.constant(DType::float32, {static_cast<int32_t>(anchors.size()), 4}, flat);
}

// Fills the outputs with garbage, runs, reads them back.
PostProcessResult run(OpFixture& f, const PostProcessIo& io) {
  const auto rows = f.graph.tensors[static_cast<size_t>(io.classes)].elements();
  f.set(io.boxes, std::vector<float>(rows * 4, 7.0f));
  f.set(io.classes, std::vector<float>(rows, 7.0f));
  f.set(io.scores, std::vector<float>(rows, 7.0f));
  f.set(io.num, std::vector<float>{7.0f});
  f.run();
  PostProcessResult d;
  const std::vector<float> boxes = f.get<float>(io.boxes);
  for (size_t i = 0; i < rows; ++i) d.boxes.push_back({boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]});
  d.classes = f.get<float>(io.classes);
  d.scores = f.get<float>(io.scores);
  d.num = f.get<float>(io.num)[0];
  return d;
}

// A float case with zero encodings: box i is exactly boxes[i].
PostProcessResult run_float(const PostProcessOptions& o, const std::vector<std::array<float, 4>>& boxes, int32_t columns,
                     const std::vector<float>& scores) {
  OpFixture f;
  std::vector<std::array<float, 4>> anchors;
  for (const auto& b : boxes) anchors.push_back(anchor_for(b[0], b[1], b[2], b[3]));
  const auto n = static_cast<int32_t>(boxes.size());
  const PostProcessIo io = add_postprocess(f, o, n, columns, DType::float32, float_anchors(f, anchors));
  f.set(io.encodings, std::vector<float>(boxes.size() * 4, 0.0f));
  f.set(io.predictions, scores);
  return run(f, io);
}

void expect_row(const PostProcessResult& d, size_t row, const std::array<float, 4>& box, float class_index, float score) {
  SCOPED_TRACE("output row " + std::to_string(row));
  ASSERT_LT(row, d.classes.size());
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(d.boxes[row][k], box[k], 1e-6) << "coordinate " << k;
  EXPECT_EQ(d.classes[row], class_index);
  EXPECT_FLOAT_EQ(d.scores[row], score);
}

void expect_empty_rows_from(const PostProcessResult& d, size_t first) {
  for (size_t row = first; row < d.classes.size(); ++row) {
    SCOPED_TRACE("unused output row " + std::to_string(row));
    for (size_t k = 0; k < 4; ++k) EXPECT_EQ(d.boxes[row][k], 0.0f);
    EXPECT_EQ(d.classes[row], 0.0f);
    EXPECT_EQ(d.scores[row], 0.0f);
  }
}

// ---------------------------------------------------------------------------
// Box decoding.

TEST(DetectionPostProcess, DecodesFloatEncodingAgainstAnchor) {
  // Anchor (y .5, x .5, h .2, w .4), encoding (1, -2, 0, 5 ln 2), scales
  // 10, 10, 5, 5:
  //   ycenter = 1/10 * .2 + .5 = .52      half_h = .5 * e^0 * .2 = .1
  //   xcenter = -2/10 * .4 + .5 = .42     half_w = .5 * e^ln2 * .4 = .4
  OpFixture f;
  const PostProcessOptions o = small_options(1, 1);
  const PostProcessIo io = add_postprocess(f, o, 1, 2, DType::float32, float_anchors(f, {{0.5f, 0.5f, 0.2f, 0.4f}}));
  f.set(io.encodings, std::vector<float>{1.0f, -2.0f, 0.0f, 5.0f * std::log(2.0f)});
  f.set(io.predictions, std::vector<float>{0.1f, 0.75f});
  const PostProcessResult d = run(f, io);
  ASSERT_EQ(d.num, 1.0f);
  const std::array<float, 4> expected{0.42f, 0.02f, 0.62f, 0.82f};
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(d.boxes[0][k], expected[k], 1e-6) << "coordinate " << k;
  EXPECT_EQ(d.classes[0], 0.0f);
  EXPECT_EQ(d.scores[0], 0.75f);
}

TEST(DetectionPostProcess, DecodesUint8EncodingsAnchorsAndScores) {
  // Encodings: scale .5, zero point 128: q 130, 124, 128, 118 are 1, -2, 0, -5.
  // Anchors: scale .01, zero point 0: q 50, 50, 20, 40 are .5, .5, .2, .4.
  //   ycenter = .52, half_h = .1; xcenter = .42, half_w = .5 e^-1 .4 = .0735758882
  // Scores: scale 1/256, zero point 0: q 200 is .78125; background q 255 ignored.
  OpFixture f;
  const PostProcessOptions o = small_options(1, 2);
  const int32_t anchors =
      f.constant(DType::uint8, {1, 4}, std::vector<uint8_t>{50, 50, 20, 40}, Quantization{0.01f, 0});
  const PostProcessIo io =
      add_postprocess(f, o, 1, 3, DType::uint8, anchors, Quantization{0.5f, 128}, Quantization{1.0f / 256, 0});
  f.set(io.encodings, std::vector<uint8_t>{130, 124, 128, 118});
  f.set(io.predictions, std::vector<uint8_t>{255, 10, 200});
  const PostProcessResult d = run(f, io);
  ASSERT_EQ(d.num, 1.0f);
  const double half_w = 0.5 * std::exp(-1.0) * 0.4;
  const std::array<double, 4> expected{0.42, 0.42 - half_w, 0.62, 0.42 + half_w};
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(d.boxes[0][k], expected[k], 1e-6) << "coordinate " << k;
  EXPECT_EQ(d.classes[0], 1.0f);
  EXPECT_EQ(d.scores[0], 0.78125f);
}

// ---------------------------------------------------------------------------
// Fast NMS.

TEST(DetectionPostProcess, FastNmsSuppressesAboveIouThresholdKeepsBelow) {
  // A = [0,0,1,1] and B = [0,.25,1,1.25] overlap with IoU .75 / 1.25 = .6;
  // C = [2,2,3,3] overlaps nothing. Scores A .9 > B .8 > C .7.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {0, 0.25f, 1, 1.25f}, {2, 2, 3, 3}};
  const std::vector<float> scores{0.9f, 0.8f, 0.7f};
  PostProcessOptions o = small_options(5, 1);

  o.nms_iou_threshold = 0.55f;  // .6 > .55: B goes
  PostProcessResult d = run_float(o, boxes, 1, scores);
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[0], 0, 0.9f);
  expect_row(d, 1, boxes[2], 0, 0.7f);
  expect_empty_rows_from(d, 2);

  o.nms_iou_threshold = 0.65f;  // .6 <= .65: B stays
  d = run_float(o, boxes, 1, scores);
  EXPECT_EQ(d.num, 3.0f);
  expect_row(d, 0, boxes[0], 0, 0.9f);
  expect_row(d, 1, boxes[1], 0, 0.8f);
  expect_row(d, 2, boxes[2], 0, 0.7f);
  expect_empty_rows_from(d, 3);
}

// TFLite's NonMaxSuppressionSingleClassHelper as TFLite writes it: each
// kept box at once deactivates every later box it overlaps. The op checks
// each visited box against the kept ones instead; both must keep the same.
std::vector<size_t> eager_nms(const std::vector<std::array<float, 4>>& boxes, const std::vector<float>& scores,
                              float score_threshold, float iou_threshold, size_t max_detections) {
  const auto iou = [&](size_t a, size_t b) {
    const auto& p = boxes[a];
    const auto& q = boxes[b];
    const float area_p = (p[2] - p[0]) * (p[3] - p[1]), area_q = (q[2] - q[0]) * (q[3] - q[1]);
    if (area_p <= 0 || area_q <= 0) return 0.0f;
    const float h = std::max(std::min(p[2], q[2]) - std::max(p[0], q[0]), 0.0f);
    const float w = std::max(std::min(p[3], q[3]) - std::max(p[1], q[1]), 0.0f);
    return h * w / (area_p + area_q - h * w);
  };
  std::vector<size_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] >= score_threshold) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<bool> active(order.size(), true);
  std::vector<size_t> selected;
  for (size_t i = 0; i < order.size() && selected.size() < max_detections; ++i) {
    if (!active[i]) continue;
    selected.push_back(order[i]);
    for (size_t j = i + 1; j < order.size(); ++j)
      if (active[j] && iou(order[i], order[j]) > iou_threshold) active[j] = false;
  }
  return selected;
}

TEST(DetectionPostProcess, SuppressionKeepsWhatTflitesEagerPassKeeps) {
  std::mt19937 rng(1917);
  std::uniform_int_distribution<int> coordinate(0, 48), extent(1, 16), score(0, 7);
  for (int trial = 0; trial < 20; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const size_t n = 200;
    std::vector<std::array<float, 4>> boxes;
    std::vector<float> scores;  // background, then the one class
    std::vector<float> class_scores;
    for (size_t i = 0; i < n; ++i) {  // dyadic, so each decodes exactly; crowded, so many overlap
      const float y = static_cast<float>(coordinate(rng)) / 64, x = static_cast<float>(coordinate(rng)) / 64;
      boxes.push_back({y, x, y + static_cast<float>(extent(rng)) / 64, x + static_cast<float>(extent(rng)) / 64});
      class_scores.push_back(static_cast<float>(score(rng)) / 8);  // many ties
      scores.insert(scores.end(), {0.0f, class_scores.back()});
    }
    PostProcessOptions o = small_options(12, 1);
    o.nms_score_threshold = 0.25f;
    o.nms_iou_threshold = trial % 2 == 0 ? 0.5f : 0.1f;
    const PostProcessResult d = run_float(o, boxes, 2, scores);
    const std::vector<size_t> expected = eager_nms(boxes, class_scores, o.nms_score_threshold, o.nms_iou_threshold, 12);
    ASSERT_EQ(d.num, static_cast<float>(expected.size()));
    for (size_t row = 0; row < expected.size(); ++row) expect_row(d, row, boxes[expected[row]], 0.0f, class_scores[expected[row]]);
    expect_empty_rows_from(d, expected.size());
  }
}

TEST(DetectionPostProcess, IouEqualToThresholdIsKept) {
  // B = [0,0,1,1] inside A = [0,0,1,2]: IoU exactly 1 / 2. TFLite drops a
  // box only when IoU > threshold.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 2}, {0, 0, 1, 1}};
  PostProcessOptions o = small_options(5, 1);
  o.nms_iou_threshold = 0.5f;
  EXPECT_EQ(run_float(o, boxes, 1, {0.9f, 0.8f}).num, 2.0f);
  o.nms_iou_threshold = 0.49f;
  EXPECT_EQ(run_float(o, boxes, 1, {0.9f, 0.8f}).num, 1.0f);
}

TEST(DetectionPostProcess, DegenerateBoxHasZeroIou) {
  // A zero-height box never suppresses nor is suppressed (TFLite: IoU 0 when
  // either area is <= 0), even when it lies inside the other box.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {0.5f, 0, 0.5f, 1}};
  PostProcessOptions o = small_options(5, 1);
  o.nms_iou_threshold = 0.01f;
  const PostProcessResult d = run_float(o, boxes, 1, {0.8f, 0.9f});
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[1], 0, 0.9f);
  expect_row(d, 1, boxes[0], 0, 0.8f);
}

TEST(DetectionPostProcess, ScoreThresholdKeepsScoresAtOrAbove) {
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {2, 2, 3, 3}, {4, 4, 5, 5}};
  PostProcessOptions o = small_options(5, 1);
  o.nms_score_threshold = 0.5f;
  const PostProcessResult d = run_float(o, boxes, 1, {0.5f, 0.49999f, 0.75f});
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[2], 0, 0.75f);
  expect_row(d, 1, boxes[0], 0, 0.5f);
  expect_empty_rows_from(d, 2);
}

TEST(DetectionPostProcess, MaxDetectionsCapsTheOutput) {
  std::vector<std::array<float, 4>> boxes;
  for (int i = 0; i < 6; ++i) boxes.push_back({2.0f * i, 0, 2.0f * i + 1, 1});  // disjoint
  const std::vector<float> scores{0.1f, 0.6f, 0.3f, 0.9f, 0.5f, 0.2f};
  const PostProcessResult d = run_float(small_options(3, 1), boxes, 1, scores);
  ASSERT_EQ(d.classes.size(), 3u);
  EXPECT_EQ(d.num, 3.0f);
  expect_row(d, 0, boxes[3], 0, 0.9f);
  expect_row(d, 1, boxes[1], 0, 0.6f);
  expect_row(d, 2, boxes[4], 0, 0.5f);
}

TEST(DetectionPostProcess, OneClassPerDetectionPicksBestIgnoringBackground) {
  // Three classes after a background column that outscores them all.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {2, 2, 3, 3}};
  const std::vector<float> with_background{0.99f, 0.2f, 0.7f, 0.1f,   // box 0: class 1
                                           0.95f, 0.3f, 0.1f, 0.8f};  // box 1: class 2
  PostProcessResult d = run_float(small_options(5, 3), boxes, 4, with_background);
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[1], 2, 0.8f);
  expect_row(d, 1, boxes[0], 1, 0.7f);

  // Without a background column the label offset is 0.
  const std::vector<float> without_background{0.2f, 0.7f, 0.1f, 0.3f, 0.1f, 0.8f};
  d = run_float(small_options(5, 3), boxes, 3, without_background);
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[1], 2, 0.8f);
  expect_row(d, 1, boxes[0], 1, 0.7f);
}

TEST(DetectionPostProcess, TiesResolveAsTflite) {
  // Equal scores are visited in anchor order (TFLite's stable sort).
  const std::vector<std::array<float, 4>> disjoint{{0, 0, 1, 1}, {2, 2, 3, 3}, {4, 4, 5, 5}, {6, 6, 7, 7}};
  PostProcessResult d = run_float(small_options(3, 1), disjoint, 1, {0.5f, 0.9f, 0.5f, 0.5f});
  EXPECT_EQ(d.num, 3.0f);
  expect_row(d, 0, disjoint[1], 0, 0.9f);
  expect_row(d, 1, disjoint[0], 0, 0.5f);
  expect_row(d, 2, disjoint[2], 0, 0.5f);

  // Two identical boxes with equal scores: the lower anchor index wins.
  const std::vector<std::array<float, 4>> same{{0, 0, 1, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}};
  d = run_float(small_options(3, 1), same, 1, {0.4f, 0.6f, 0.6f});
  EXPECT_EQ(d.num, 1.0f);
  expect_row(d, 0, same[1], 0, 0.6f);

  // Equal class scores within an anchor: the first class (ArgMaxVector).
  d = run_float(small_options(3, 3), {{0, 0, 1, 1}}, 4, {0.0f, 0.3f, 0.8f, 0.8f});
  EXPECT_EQ(d.num, 1.0f);
  expect_row(d, 0, {0, 0, 1, 1}, 1, 0.8f);
}

TEST(DetectionPostProcess, SeveralClassesPerDetection) {
  // max_classes_per_detection 2: each selected anchor fills 2 rows (best
  // class first) at rows 2i, 2i+1; num_detections counts anchors.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {2, 2, 3, 3}, {0, 0, 1, 1}};
  PostProcessOptions o = small_options(3, 3);
  o.max_classes_per_detection = 2;
  // Columns: background, classes 0, 1, 2.
  const std::vector<float> scores{0.0f, 0.2f, 0.7f, 0.5f,   // box 0: class 1 .7, class 2 .5
                                  0.0f, 0.9f, 0.1f, 0.3f,   // box 1: class 0 .9, class 2 .3
                                  0.0f, 0.6f, 0.1f, 0.1f};  // box 2: on box 0, best .6: suppressed
  const PostProcessResult d = run_float(o, boxes, 4, scores);
  ASSERT_EQ(d.classes.size(), 6u);
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[1], 0, 0.9f);
  expect_row(d, 1, boxes[1], 2, 0.3f);
  expect_row(d, 2, boxes[0], 1, 0.7f);
  expect_row(d, 3, boxes[0], 2, 0.5f);
  expect_empty_rows_from(d, 4);
}

// ---------------------------------------------------------------------------
// Regular NMS.

TEST(DetectionPostProcess, RegularNmsSuppressesOnlyWithinAClass) {
  // A = [0,0,1,1] and B = [0,.1,1,1.1] overlap (IoU .9 / 1.1 = .82).
  // Class 0: A .9, B .8 -> B suppressed. Class 1: A .1, B .7 -> A suppressed.
  const std::vector<std::array<float, 4>> boxes{{0, 0, 1, 1}, {0, 0.1f, 1, 1.1f}};
  const std::vector<float> scores{0.0f, 0.9f, 0.1f,   // A
                                  0.0f, 0.8f, 0.7f};  // B
  PostProcessOptions o = small_options(5, 2);
  o.use_regular_nms = true;
  PostProcessResult d = run_float(o, boxes, 3, scores);
  EXPECT_EQ(d.num, 2.0f);
  expect_row(d, 0, boxes[0], 0, 0.9f);
  expect_row(d, 1, boxes[1], 1, 0.7f);
  expect_empty_rows_from(d, 2);

  // The fast path scores each anchor by its best class only: B goes.
  o.use_regular_nms = false;
  d = run_float(o, boxes, 3, scores);
  EXPECT_EQ(d.num, 1.0f);
  expect_row(d, 0, boxes[0], 0, 0.9f);
}

TEST(DetectionPostProcess, RegularNmsHonoursDetectionsPerClassAndMaxDetections) {
  // Four disjoint boxes, two classes.
  std::vector<std::array<float, 4>> boxes;
  for (int i = 0; i < 4; ++i) boxes.push_back({2.0f * i, 0, 2.0f * i + 1, 1});
  const std::vector<float> scores{0.0f, 0.9f, 0.2f,   //
                                  0.0f, 0.8f, 0.6f,   //
                                  0.0f, 0.7f, 0.5f,   //
                                  0.0f, 0.1f, 0.85f};
  PostProcessOptions o = small_options(3, 2);
  o.use_regular_nms = true;
  o.detections_per_class = 2;
  // Class 0 keeps .9 (box 0), .8 (box 1); class 1 keeps .85 (box 3), .6
  // (box 1); the best 3 overall: .9, .85, .8.
  const PostProcessResult d = run_float(o, boxes, 3, scores);
  ASSERT_EQ(d.classes.size(), 3u);
  EXPECT_EQ(d.num, 3.0f);
  expect_row(d, 0, boxes[0], 0, 0.9f);
  expect_row(d, 1, boxes[3], 1, 0.85f);
  expect_row(d, 2, boxes[1], 0, 0.8f);
}

// ---------------------------------------------------------------------------
// uint8 and float agree: the uint8 path is the float path on dequantized
// values, bit for bit (fixed-seed random inputs, both NMS variants; the fast
// one with one class per anchor takes the uint8 best-class path).

TEST(DetectionPostProcess, Uint8MatchesFloatOnDequantizedInputs) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  const Quantization enc_q{0.09134f, 179}, score_q{0.00390625f, 0}, anchor_q{0.006453f, 0};
  const auto dequantize = [](const std::vector<uint8_t>& q, Quantization p) {
    std::vector<float> f;
    for (const uint8_t v : q) f.push_back((static_cast<float>(v) - static_cast<float>(p.zero_point)) * p.scale);
    return f;
  };
  for (int trial = 0; trial < 8; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    const int32_t n = 60, classes = 5;
    PostProcessOptions o = small_options(10, classes);
    o.use_regular_nms = trial % 2 == 1;
    o.max_classes_per_detection = trial % 4 == 2 ? 2 : 1;
    o.detections_per_class = 4;
    o.nms_score_threshold = 0.3f;
    std::vector<uint8_t> enc(n * 4), scores(static_cast<size_t>(n) * (classes + 1)), anchors(n * 4);
    for (auto& v : enc) v = static_cast<uint8_t>(std::clamp(179 + (byte(rng) - 128) / 8, 0, 255));
    for (auto& v : scores) v = static_cast<uint8_t>(byte(rng) / 32 * 32);  // many ties
    for (int32_t i = 0; i < n; ++i) {
      anchors[4 * i] = static_cast<uint8_t>(byte(rng) % 155);      // ycenter
      anchors[4 * i + 1] = static_cast<uint8_t>(byte(rng) % 155);  // xcenter
      anchors[4 * i + 2] = static_cast<uint8_t>(10 + byte(rng) % 40);
      anchors[4 * i + 3] = static_cast<uint8_t>(10 + byte(rng) % 40);
    }

    OpFixture fq;
    const int32_t aq = fq.constant(DType::uint8, {n, 4}, anchors, anchor_q);
    const PostProcessIo ioq = add_postprocess(fq, o, n, classes + 1, DType::uint8, aq, enc_q, score_q);
    fq.set(ioq.encodings, enc);
    fq.set(ioq.predictions, scores);
    const PostProcessResult dq = run(fq, ioq);

    OpFixture ff;
    const int32_t af = ff.constant(DType::float32, {n, 4}, dequantize(anchors, anchor_q));
    const PostProcessIo iof = add_postprocess(ff, o, n, classes + 1, DType::float32, af);
    ff.set(iof.encodings, dequantize(enc, enc_q));
    ff.set(iof.predictions, dequantize(scores, score_q));
    const PostProcessResult df = run(ff, iof);

    EXPECT_GT(dq.num, 0.0f);
    EXPECT_EQ(dq.num, df.num);
    EXPECT_EQ(dq.classes, df.classes);
    EXPECT_EQ(dq.scores, df.scores);
    EXPECT_EQ(dq.boxes, df.boxes);
  }
}

// ---------------------------------------------------------------------------
// prepare() refusals.

TEST(DetectionPostProcess, PrepareRefusesBadTensors) {
  const PostProcessOptions o = small_options(2, 3);
  const auto prepare_error = [&](const std::function<void(OpFixture&)>& build) {
    OpFixture f;
    build(f);
    return error_of([&] { f.prepare_only(); });
  };
  const auto good_anchors = [](OpFixture& f) { return float_anchors(f, {{0.5f, 0.5f, 1, 1}, {0.5f, 0.5f, 1, 1}}); };

  EXPECT_EQ(prepare_error([&](OpFixture& f) { add_postprocess(f, o, 2, 4, DType::float32, good_anchors(f)); }), "");

  // The model declares the outputs with an empty shape; the reader must set them.
  std::string e = prepare_error([&](OpFixture& f) {
    const PostProcessIo io = add_postprocess(f, o, 2, 4, DType::float32, good_anchors(f));
    f.graph.tensors[static_cast<size_t>(io.boxes)].shape = {};
  });
  EXPECT_TRUE(contains(e, "detection boxes output")) << e;
  EXPECT_TRUE(contains(e, "[1,2,4]")) << e;

  e = prepare_error([&](OpFixture& f) { add_postprocess(f, o, 2, 5, DType::float32, good_anchors(f)); });
  EXPECT_TRUE(contains(e, "class predictions")) << e;
  EXPECT_TRUE(contains(e, "[1,2,5]")) << e;

  e = prepare_error([&](OpFixture& f) {
    add_postprocess(f, o, 2, 4, DType::float32, f.tensor(DType::float32, {2, 4}));
  });
  EXPECT_TRUE(contains(e, "constant")) << e;

  e = prepare_error([&](OpFixture& f) {
    add_postprocess(f, o, 2, 4, DType::float32, float_anchors(f, {{0.5f, 0.5f, 1, 1}}));
  });
  EXPECT_TRUE(contains(e, "anchors")) << e;

  e = prepare_error([&](OpFixture& f) {
    add_postprocess(f, o, 2, 4, DType::float32, float_anchors(f, {{0.5f, 0.5f, 1, 1}, {0.5f, 0.5f, -1, 1}}));
  });
  EXPECT_TRUE(contains(e, "anchor 1")) << e;
  EXPECT_TRUE(contains(e, "h >= 0")) << e;

  e = prepare_error([&](OpFixture& f) { add_postprocess(f, o, 2, 4, DType::int32, good_anchors(f)); });
  EXPECT_TRUE(contains(e, "must be uint8 or float32")) << e;

  e = prepare_error([&](OpFixture& f) {  // uint8 without quantization
    add_postprocess(f, o, 2, 4, DType::uint8, good_anchors(f), Quantization{0.0f, 0}, Quantization{0.1f, 0});
  });
  EXPECT_TRUE(contains(e, "scale")) << e;

  PostProcessOptions bad = o;
  bad.nms_iou_threshold = 0.0f;
  e = prepare_error([&](OpFixture& f) { add_postprocess(f, bad, 2, 4, DType::float32, good_anchors(f)); });
  EXPECT_TRUE(contains(e, "nms_iou_threshold")) << e;
  EXPECT_TRUE(contains(e, "TFLite_Detection_PostProcess")) << e;
}

TEST(DetectionPostProcess, OutputShapesFollowTheOptions) {
  PostProcessOptions o = ssd_options();
  auto shapes = postprocess_output_shapes(o);
  EXPECT_EQ(shapes[0], (std::vector<int32_t>{1, 20, 4}));
  EXPECT_EQ(shapes[1], (std::vector<int32_t>{1, 20}));
  EXPECT_EQ(shapes[2], (std::vector<int32_t>{1, 20}));
  EXPECT_EQ(shapes[3], (std::vector<int32_t>{1}));
  o.max_classes_per_detection = 3;
  shapes = postprocess_output_shapes(o);
  EXPECT_EQ(shapes[0], (std::vector<int32_t>{1, 60, 4}));
}

// ---------------------------------------------------------------------------
// Options.

// One map entry: numbers as int, float or bool; or a string.
struct Entry {
  std::string key;
  enum Kind { kInt, kFloat, kBool, kString } kind;
  double value = 0;
};

std::vector<Entry> all_entries() {
  return {{"max_detections", Entry::kInt, 20},       {"max_classes_per_detection", Entry::kInt, 1},
          {"detections_per_class", Entry::kInt, 7},  {"use_regular_nms", Entry::kBool, 1},
          {"nms_score_threshold", Entry::kFloat, 0.25}, {"nms_iou_threshold", Entry::kFloat, 0.6},
          {"num_classes", Entry::kInt, 90},          {"y_scale", Entry::kFloat, 10},
          {"x_scale", Entry::kFloat, 11},            {"h_scale", Entry::kFloat, 5},
          {"w_scale", Entry::kFloat, 6},             {"_output_quantized", Entry::kBool, 1}};
}

std::vector<uint8_t> build_map(const std::vector<Entry>& entries) {
  flexbuffers::Builder fbb;
  fbb.Map([&] {
    for (const Entry& e : entries) {
      switch (e.kind) {
        case Entry::kInt: fbb.Int(e.key.c_str(), static_cast<int64_t>(e.value)); break;
        case Entry::kFloat: fbb.Float(e.key.c_str(), static_cast<float>(e.value)); break;
        case Entry::kBool: fbb.Bool(e.key.c_str(), e.value != 0); break;
        case Entry::kString: fbb.String(e.key.c_str(), "ten"); break;
      }
    }
  });
  fbb.Finish();
  return fbb.GetBuffer();
}

std::vector<Entry> with(std::vector<Entry> entries, const std::string& key, Entry::Kind kind, double value) {
  for (Entry& e : entries)
    if (e.key == key) e = {key, kind, value};
  return entries;
}

std::vector<Entry> without(std::vector<Entry> entries, const std::string& key) {
  std::erase_if(entries, [&](const Entry& e) { return e.key == key; });
  return entries;
}

std::string parse_error(const std::vector<uint8_t>& buffer) {
  return error_of([&] { parse_postprocess_options(buffer.data(), buffer.size()); });
}

TEST(PostProcessOptions, ParsesEveryKey) {
  const std::vector<uint8_t> buffer = build_map(all_entries());
  const PostProcessOptions o = parse_postprocess_options(buffer.data(), buffer.size());
  EXPECT_EQ(o.max_detections, 20);
  EXPECT_EQ(o.max_classes_per_detection, 1);
  EXPECT_EQ(o.detections_per_class, 7);
  EXPECT_TRUE(o.use_regular_nms);
  EXPECT_EQ(o.nms_score_threshold, 0.25f);
  EXPECT_EQ(o.nms_iou_threshold, 0.6f);
  EXPECT_EQ(o.num_classes, 90);
  EXPECT_EQ(o.y_scale, 10.0f);
  EXPECT_EQ(o.x_scale, 11.0f);
  EXPECT_EQ(o.h_scale, 5.0f);
  EXPECT_EQ(o.w_scale, 6.0f);
}

TEST(PostProcessOptions, OptionalKeysHaveTfliteDefaults) {
  const std::vector<uint8_t> buffer = build_map(without(without(all_entries(), "detections_per_class"), "use_regular_nms"));
  const PostProcessOptions o = parse_postprocess_options(buffer.data(), buffer.size());
  EXPECT_EQ(o.detections_per_class, 100);
  EXPECT_FALSE(o.use_regular_nms);
}

TEST(PostProcessOptions, ParsesTheSsdMobileNetV2Options) {
  // The custom_options bytes of mobilenet_ssd_v2_coco_quant_postprocess.tflite's
  // TFLite_Detection_PostProcess op (detections_per_class is stored as 0).
  const std::vector<uint8_t> buffer{
      117, 115, 101, 95,  114, 101, 103, 117, 108, 97,  114, 95,  110, 109, 115, 0,   109, 97,  120, 95,  99,
      108, 97,  115, 115, 101, 115, 95,  112, 101, 114, 95,  100, 101, 116, 101, 99,  116, 105, 111, 110, 0,
      121, 95,  115, 99,  97,  108, 101, 0,   95,  111, 117, 116, 112, 117, 116, 95,  113, 117, 97,  110, 116,
      105, 122, 101, 100, 0,   110, 109, 115, 95,  115, 99,  111, 114, 101, 95,  116, 104, 114, 101, 115, 104,
      111, 108, 100, 0,   119, 95,  115, 99,  97,  108, 101, 0,   110, 109, 115, 95,  105, 111, 117, 95,  116,
      104, 114, 101, 115, 104, 111, 108, 100, 0,   104, 95,  115, 99,  97,  108, 101, 0,   110, 117, 109, 95,
      99,  108, 97,  115, 115, 101, 115, 0,   100, 101, 116, 101, 99,  116, 105, 111, 110, 115, 95,  112, 101,
      114, 95,  99,  108, 97,  115, 115, 0,   95,  115, 117, 112, 112, 111, 114, 116, 95,  111, 117, 116, 112,
      117, 116, 95,  116, 121, 112, 101, 95,  102, 108, 111, 97,  116, 95,  105, 110, 95,  113, 117, 97,  110,
      116, 105, 122, 101, 100, 95,  111, 112, 0,   109, 97,  120, 95,  100, 101, 116, 101, 99,  116, 105, 111,
      110, 115, 0,   120, 95,  115, 99,  97,  108, 101, 0,   13,  172, 68,  90,  111, 210, 29,  132, 161, 108,
      231, 144, 20,  192, 0,   14,  0,   0,   0,   1,   0,   0,   0,   13,  0,   0,   0,   1,   0,   0,   0,
      1,   0,   0,   0,   0,   0,   0,   0,   0,   0,   160, 64,  1,   0,   0,   0,   20,  0,   0,   0,   154,
      153, 25,  63,  119, 204, 43,  50,  90,  0,   0,   0,   0,   0,   0,   0,   0,   0,   160, 64,  0,   0,
      32,  65,  0,   0,   32,  65,  106, 106, 6,   14,  6,   6,   14,  14,  6,   106, 14,  14,  14,  65,  38,
      1};
  ASSERT_EQ(buffer.size(), 316u);
  const PostProcessOptions o = parse_postprocess_options(buffer.data(), buffer.size());
  EXPECT_EQ(o.max_detections, 20);
  EXPECT_EQ(o.max_classes_per_detection, 1);
  EXPECT_EQ(o.detections_per_class, 0);
  EXPECT_FALSE(o.use_regular_nms);
  EXPECT_EQ(o.nms_score_threshold, 1e-8f);
  EXPECT_EQ(o.nms_iou_threshold, 0.6f);
  EXPECT_EQ(o.num_classes, 90);
  EXPECT_EQ(o.y_scale, 10.0f);
  EXPECT_EQ(o.x_scale, 10.0f);
  EXPECT_EQ(o.h_scale, 5.0f);
  EXPECT_EQ(o.w_scale, 5.0f);
}

TEST(PostProcessOptions, MissingRequiredKeyIsNamed) {
  for (const char* key : {"max_detections", "max_classes_per_detection", "nms_score_threshold", "nms_iou_threshold",
                          "num_classes", "y_scale", "x_scale", "h_scale", "w_scale"}) {
    const std::string e = parse_error(build_map(without(all_entries(), key)));
    EXPECT_TRUE(contains(e, std::string("'") + key + "'")) << key << ": " << e;
    EXPECT_TRUE(contains(e, "missing")) << key << ": " << e;
  }
}

TEST(PostProcessOptions, BadValueIsNamed) {
  struct Case {
    const char* key;
    Entry::Kind kind;
    double value;
    const char* expected;  // part of the message
  };
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {"max_detections", Entry::kInt, 0, "max_detections = 0"},
      {"max_detections", Entry::kInt, 1001, "max_detections = 1001"},
      {"max_detections", Entry::kInt, 1e10, "'max_detections' = 10000000000"},
      {"max_detections", Entry::kFloat, 2.5, "max_detections' = 2.5"},
      {"num_classes", Entry::kInt, 0, "num_classes = 0"},
      {"num_classes", Entry::kInt, 10001, "num_classes = 10001"},
      {"num_classes", Entry::kString, 0, "'num_classes' must be a number, is a string"},
      {"max_classes_per_detection", Entry::kInt, 0, "max_classes_per_detection = 0"},
      {"max_classes_per_detection", Entry::kInt, 91, "max_classes_per_detection = 91"},
      {"detections_per_class", Entry::kInt, 0, "detections_per_class = 0"},  // with use_regular_nms
      {"detections_per_class", Entry::kInt, -1, "detections_per_class = -1"},
      {"use_regular_nms", Entry::kFloat, 1, "'use_regular_nms' must be a bool"},
      {"nms_iou_threshold", Entry::kFloat, 0, "nms_iou_threshold = 0"},
      {"nms_iou_threshold", Entry::kFloat, 1.5, "nms_iou_threshold = 1.5"},
      {"nms_score_threshold", Entry::kFloat, nan, "'nms_score_threshold'"},
      {"nms_score_threshold", Entry::kFloat, inf, "'nms_score_threshold'"},
      {"y_scale", Entry::kFloat, -1, "y_scale = -1"},
      {"x_scale", Entry::kFloat, 0, "x_scale = 0"},
      {"h_scale", Entry::kFloat, inf, "'h_scale'"},
      {"w_scale", Entry::kFloat, nan, "'w_scale'"},
  };
  for (const Case& c : cases) {
    const std::string e = parse_error(build_map(with(all_entries(), c.key, c.kind, c.value)));
    EXPECT_TRUE(contains(e, c.expected)) << c.key << " = " << c.value << ": " << e;
    EXPECT_TRUE(contains(e, "TFLite_Detection_PostProcess custom options")) << e;
  }

  // The fast NMS does not use detections_per_class: 0 is accepted there.
  const std::vector<uint8_t> fast = build_map(
      with(with(all_entries(), "use_regular_nms", Entry::kBool, 0), "detections_per_class", Entry::kInt, 0));
  EXPECT_EQ(parse_postprocess_options(fast.data(), fast.size()).detections_per_class, 0);
  // A whole float is an integer, as in TFLite.
  const std::vector<uint8_t> whole = build_map(with(all_entries(), "max_detections", Entry::kFloat, 10));
  EXPECT_EQ(parse_postprocess_options(whole.data(), whole.size()).max_detections, 10);
}

TEST(PostProcessOptions, RefusesNonMapsAndEmptyBuffers) {
  EXPECT_TRUE(contains(error_of([] { parse_postprocess_options(nullptr, 0); }), "not a FlexBuffer"));
  flexbuffers::Builder fbb;
  fbb.Int(42);
  fbb.Finish();
  const std::vector<uint8_t> scalar = fbb.GetBuffer();
  EXPECT_TRUE(contains(parse_error(scalar), "must be a map")) << parse_error(scalar);
}

TEST(PostProcessOptions, CorruptedBuffersAreRefusedSafely) {
  // Byte flips, random bytes and truncations of a valid buffer: each parse
  // either refuses with an Error or returns sane options; never reads out
  // of bounds (every buffer is an exactly sized heap copy, so ASan sees
  // any overread).
  const std::vector<uint8_t> valid = build_map(all_entries());
  for (size_t size = 0; size < valid.size(); ++size) {
    const std::vector<uint8_t> prefix(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_FALSE(parse_error(prefix).empty()) << "prefix of " << size << " bytes";
    const std::vector<uint8_t> suffix(valid.end() - static_cast<std::ptrdiff_t>(size), valid.end());
    parse_error(suffix);  // may happen to be valid; must not crash
  }

  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  int refused = 0, parsed = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> buffer = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % buffer.size();
      if (rng() % 2)
        buffer[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      else
        buffer[at] = static_cast<uint8_t>(byte(rng));
    }
    if (rng() % 4 == 0) buffer.resize(1 + rng() % buffer.size());
    const std::vector<uint8_t> exact(buffer);  // capacity == size
    try {
      const PostProcessOptions o = parse_postprocess_options(exact.data(), exact.size());
      EXPECT_EQ(postprocess_options_problem(o), "");
      ++parsed;
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(parsed, 0);  // flips in ignored keys or in unused bytes
}

}  // namespace
}  // namespace lookout::engine
