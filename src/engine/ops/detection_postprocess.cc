// TFLite_Detection_PostProcess: SSD box decoding and non-max suppression,
// following TensorFlow Lite's kernels/detection_postprocess.cc.
//
// Two stages, as in TFLite's Eval():
//   1. decode_boxes: each anchor's box encoding (ty, tx, th, tw), relative to
//      the anchor (ycenter, xcenter, h, w), becomes a corner box
//        ycenter = ty / y_scale * anchor.h + anchor.y
//        xcenter = tx / x_scale * anchor.w + anchor.x
//        half_h  = 0.5 * exp(th / h_scale) * anchor.h
//        half_w  = 0.5 * exp(tw / w_scale) * anchor.w
//      (ymin, xmin, ymax, xmax) = (ycenter - half_h, xcenter - half_w,
//      ycenter + half_h, xcenter + half_w), the arithmetic in double as
//      TFLite does it, the result in float.
//   2. non-max suppression on the class scores (uint8 scores dequantized):
//      - fast (use_regular_nms false): every anchor keeps its top
//        max_classes_per_detection classes; one NMS over all anchors, each
//        scored by its best class; every selected anchor then emits its top
//        classes (one output row each).
//      - regular (use_regular_nms true): one NMS per class (at most
//        detections_per_class boxes each), the survivors of all classes
//        merged and cut to the max_detections best.
//   An NMS keeps the scores >= nms_score_threshold, visits them by
//   decreasing score (stable: equal scores in anchor order) and drops every
//   later box whose IoU with a selected one is > nms_iou_threshold.
//
// Ties are broken exactly as TFLite does: the single-class NMS order is a
// std::stable_sort; "top classes" and the regular path's merge use TFLite's
// DecreasingPartialArgSort (the first maximum for one element, otherwise
// std::partial_sort with the same comparator on the same input).
//
// Output rows that no detection fills are zero; num_detections is a float.
//
// Differences from TFLite, all refusals at prepare time of inputs TFLite
// would fail on at run time or read as garbage: anchor heights and widths
// must be >= 0 (TFLite's ValidateBoxes fails the invocation otherwise),
// anchor values finite, and the anchors may be uint8 or float32 whatever the
// box encodings' type (TFLite assumes uint8 anchors with uint8 encodings).
#include "engine/ops/detection_postprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <variant>
#include <vector>

// flexbuffers.h pulls in util.h, whose locale-independent number parsing
// needs libflatbuffers (ClassicLocale::instance_), which the engine does not
// link; plain strtod/strtoll are fine for the few numbers read here. Nothing
// else in the engine includes util.h.
#define FLATBUFFERS_LOCALE_INDEPENDENT 0
#include <flatbuffers/flexbuffers.h>

#include "engine/error.h"
#include "engine/kernel.h"

namespace lookout::engine {
namespace {

// Inputs.
constexpr size_t kBoxEncodings = 0;     // [1, N, >=4] uint8 or float32: ty, tx, th, tw (+ extra, ignored)
constexpr size_t kClassPredictions = 1; // [1, N, num_classes (+1 background first)] uint8 or float32
constexpr size_t kAnchors = 2;          // [N, 4] constant uint8 or float32: ycenter, xcenter, h, w
// Outputs, all float32.
constexpr size_t kDetectionBoxes = 0;    // [1, R, 4]: ymin, xmin, ymax, xmax
constexpr size_t kDetectionClasses = 1;  // [1, R]: class index, background excluded
constexpr size_t kDetectionScores = 2;   // [1, R]
constexpr size_t kNumDetections = 3;     // [1]
constexpr size_t kNumOutputs = 4;

constexpr int32_t kBatchSize = 1;
constexpr int32_t kNumCoordBox = 4;

const std::string kOptionsWhat = std::string(kDetectionPostProcessCustomCode) + " custom options";

// ---------------------------------------------------------------------------
// Options.

const char* flex_type_name(flexbuffers::Type t) {
  switch (t) {
    case flexbuffers::FBT_NULL: return "null";
    case flexbuffers::FBT_INT: case flexbuffers::FBT_INDIRECT_INT: return "int";
    case flexbuffers::FBT_UINT: case flexbuffers::FBT_INDIRECT_UINT: return "uint";
    case flexbuffers::FBT_FLOAT: case flexbuffers::FBT_INDIRECT_FLOAT: return "float";
    case flexbuffers::FBT_BOOL: return "bool";
    case flexbuffers::FBT_KEY: return "key";
    case flexbuffers::FBT_STRING: return "string";
    case flexbuffers::FBT_MAP: return "map";
    case flexbuffers::FBT_BLOB: return "blob";
    default: return "vector";
  }
}

// Reads the keys of a verified map. Only scalar values are accepted; each is
// range-checked before any conversion, so no cast is ever out of range.
class OptionsReader {
 public:
  explicit OptionsReader(const flexbuffers::Map& map) : map_(map) {}

  bool has(const char* key) const { return !map_[key].IsNull(); }

  // int, uint, or a float holding a whole number (TFLite's AsInt32 accepts
  // those, truncating).
  int32_t get_int(const char* key) const {
    const flexbuffers::Reference r = required(key);
    if (r.IsInt()) {
      const int64_t v = r.AsInt64();
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        fail(key, "= " + std::to_string(v) + " does not fit an int32");
      return static_cast<int32_t>(v);
    }
    if (r.IsUInt()) {
      const uint64_t v = r.AsUInt64();
      if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
        fail(key, "= " + std::to_string(v) + " does not fit an int32");
      return static_cast<int32_t>(v);
    }
    if (r.IsFloat()) {
      const double v = r.AsDouble();
      if (!(std::isfinite(v) && v == std::trunc(v) && v >= std::numeric_limits<int32_t>::min() &&
            v <= std::numeric_limits<int32_t>::max()))
        fail(key, "= " + std::to_string(v) + " must be a whole number that fits an int32");
      return static_cast<int32_t>(v);
    }
    fail(key, "must be a number, is a " + std::string(flex_type_name(r.GetType())));
  }

  float get_float(const char* key) const {
    const flexbuffers::Reference r = required(key);
    if (!r.IsNumeric()) fail(key, "must be a number, is a " + std::string(flex_type_name(r.GetType())));
    const double v = r.AsDouble();
    if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()))
      fail(key, "= " + std::to_string(v) + " must be a finite float");
    return static_cast<float>(v);
  }

  bool get_bool(const char* key) const {
    const flexbuffers::Reference r = required(key);
    if (!(r.IsBool() || r.IsIntOrUint()))
      fail(key, "must be a bool, is a " + std::string(flex_type_name(r.GetType())));
    return r.AsBool();
  }

  [[noreturn]] static void fail(const char* key, const std::string& rule) {
    throw Error(kOptionsWhat + ": key '" + key + "' " + rule);
  }

 private:
  flexbuffers::Reference required(const char* key) const {
    const flexbuffers::Reference r = map_[key];
    if (r.IsNull()) fail(key, "is required and missing");
    return r;
  }

  const flexbuffers::Map& map_;
};

// ---------------------------------------------------------------------------
// The arithmetic: plain loops, the readable spec.

struct CenterSize {
  float y, x, h, w;
};

struct BoxCorner {
  float ymin, xmin, ymax, xmax;
};
static_assert(sizeof(BoxCorner) == sizeof(float) * kNumCoordBox, "BoxCorner is the output's row layout");

// One anchor's corner box from its encoding, TFLite's DecodeCenterSizeBoxes.
BoxCorner decode_box(const CenterSize& e, const CenterSize& anchor, const CenterSize& scale) {
  const auto d = [](float v) { return static_cast<double>(v); };
  const auto ycenter = static_cast<float>(d(e.y) / d(scale.y) * d(anchor.h) + d(anchor.y));
  const auto xcenter = static_cast<float>(d(e.x) / d(scale.x) * d(anchor.w) + d(anchor.x));
  const auto half_h = static_cast<float>(0.5 * std::exp(d(e.h) / d(scale.h)) * d(anchor.h));
  const auto half_w = static_cast<float>(0.5 * std::exp(d(e.w) / d(scale.w)) * d(anchor.w));
  return {ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w};
}

// TFLite's ComputeIntersectionOverUnion: 0 when either box has no area.
float intersection_over_union(const BoxCorner& a, const BoxCorner& b) {
  const float area_a = (a.ymax - a.ymin) * (a.xmax - a.xmin);
  const float area_b = (b.ymax - b.ymin) * (b.xmax - b.xmin);
  if (area_a <= 0 || area_b <= 0) return 0.0f;
  const float ymin = std::max(a.ymin, b.ymin);
  const float xmin = std::max(a.xmin, b.xmin);
  const float ymax = std::min(a.ymax, b.ymax);
  const float xmax = std::min(a.xmax, b.xmax);
  const float intersection = std::max(ymax - ymin, 0.0f) * std::max(xmax - xmin, 0.0f);
  return intersection / (area_a + area_b - intersection);
}

// TFLite's DecreasingPartialArgSort: indices[0, num_to_sort) become the
// indices of the num_to_sort largest of values[0, num_values), largest first.
// For one, the first maximum (TFLite's ArgMaxVector); for more,
// std::partial_sort over iota, whose order among equal values is the
// standard library's, as in TFLite. indices holds num_values entries.
void decreasing_partial_arg_sort(const float* values, int32_t num_values, int32_t num_to_sort, int32_t* indices) {
  if (num_to_sort == 1) {
    int32_t best = 0;
    for (int32_t i = 1; i < num_values; ++i)
      if (values[i] > values[best]) best = i;
    indices[0] = best;
    return;
  }
  std::iota(indices, indices + num_values, 0);
  std::partial_sort(indices, indices + num_to_sort, indices + num_values,
                    [values](int32_t i, int32_t j) { return values[i] > values[j]; });
}

// The greedy pass of TFLite's NonMaxSuppressionSingleClassHelper: visit the
// candidate anchors in `ordered` (best first), keep each one no kept anchor
// overlaps by more than the IoU threshold, at most max_detections of them;
// box_of(anchor) is the anchor's decoded box. TFLite drops, as it keeps a
// box, every later box that box overlaps; testing each visited box against
// the kept ones instead keeps the same boxes (a box falls only to kept boxes
// ranked before it, IoU taken with the same arguments) and stops at the last
// box needed, so only the boxes visited need decoding. `selected` and
// `kept_boxes` are cleared, then hold the kept anchors and their boxes.
template <class BoxOf>
void greedy_suppression(std::span<const int32_t> ordered, float iou_threshold, int32_t max_detections,
                        const BoxOf& box_of, std::vector<int32_t>& selected, std::vector<BoxCorner>& kept_boxes) {
  selected.clear();
  kept_boxes.clear();
  for (const int32_t anchor : ordered) {
    if (static_cast<int64_t>(selected.size()) >= max_detections) break;
    const BoxCorner box = box_of(anchor);
    const bool suppressed = std::any_of(kept_boxes.begin(), kept_boxes.end(), [&](const BoxCorner& kept) {
      return intersection_over_union(kept, box) > iou_threshold;
    });
    if (suppressed) continue;
    selected.push_back(anchor);
    kept_boxes.push_back(box);
  }
}

// TFLite's NonMaxSuppressionSingleClassHelper: the anchors (indices into
// boxes/scores) selected for one score column, best first, at most
// max_detections of them.
std::vector<int32_t> non_max_suppression_single_class(std::span<const BoxCorner> boxes,
                                                      std::span<const float> scores,
                                                      const PostProcessOptions& o, int32_t max_detections) {
  // Candidates: scores at or above the threshold, in anchor order; visited
  // by decreasing score, equal scores in anchor order.
  std::vector<int32_t> ordered;
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] >= o.nms_score_threshold) ordered.push_back(static_cast<int32_t>(i));
  std::stable_sort(ordered.begin(), ordered.end(), [&scores](int32_t i, int32_t j) {
    return scores[static_cast<size_t>(i)] > scores[static_cast<size_t>(j)];
  });
  std::vector<int32_t> selected;
  std::vector<BoxCorner> kept_boxes;
  greedy_suppression(
      ordered, o.nms_iou_threshold, max_detections,
      [boxes](int32_t anchor) { return boxes[static_cast<size_t>(anchor)]; }, selected, kept_boxes);
  return selected;
}

// Where the results go: the four float32 outputs, zero-filled beforehand.
struct DetectionOutputs {
  BoxCorner* boxes;
  float* classes;
  float* scores;
  float* num_detections;
};

// The class scores, row-major: num_boxes rows of num_columns floats; the
// class c (0-based, background excluded) is at column c + label_offset.
struct ScoreMatrix {
  const float* data;
  int32_t num_boxes, num_columns, label_offset, num_classes;

  const float* row(int32_t box) const {
    return data + static_cast<size_t>(box) * static_cast<size_t>(num_columns) + static_cast<size_t>(label_offset);
  }
};

// TFLite's NonMaxSuppressionMultiClassFastHelper.
void non_max_suppression_multi_class_fast(std::span<const BoxCorner> boxes, const ScoreMatrix& s,
                                          const PostProcessOptions& o, const DetectionOutputs& out) {
  // Validation guarantees max_classes_per_detection <= num_classes.
  const int32_t per_anchor = o.max_classes_per_detection;
  const auto k = static_cast<size_t>(per_anchor);
  std::vector<float> max_scores(static_cast<size_t>(s.num_boxes));
  std::vector<int32_t> top_classes(static_cast<size_t>(s.num_boxes) * k);
  std::vector<int32_t> class_order(static_cast<size_t>(s.num_classes));
  for (int32_t box = 0; box < s.num_boxes; ++box) {
    const float* box_scores = s.row(box);
    decreasing_partial_arg_sort(box_scores, s.num_classes, per_anchor, class_order.data());
    std::copy_n(class_order.begin(), k, top_classes.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(box) * k));
    max_scores[static_cast<size_t>(box)] = box_scores[class_order[0]];
  }

  const std::vector<int32_t> selected = non_max_suppression_single_class(boxes, max_scores, o, o.max_detections);

  for (size_t i = 0; i < selected.size(); ++i) {
    const int32_t box = selected[i];
    const float* box_scores = s.row(box);
    for (size_t col = 0; col < k; ++col) {
      const size_t row = k * i + col;
      const int32_t class_index = top_classes[static_cast<size_t>(box) * k + col];
      out.boxes[row] = boxes[static_cast<size_t>(box)];
      out.classes[row] = static_cast<float>(class_index);
      out.scores[row] = box_scores[class_index];
    }
  }
  // TFLite counts selected anchors, not output rows.
  out.num_detections[0] = static_cast<float>(selected.size());
}

// TFLite's NonMaxSuppressionMultiClassRegularHelper.
void non_max_suppression_multi_class_regular(std::span<const BoxCorner> boxes, const ScoreMatrix& s,
                                             const PostProcessOptions& o, const DetectionOutputs& out) {
  struct Candidate {
    int32_t box, class_index;
  };
  const auto n = static_cast<size_t>(s.num_boxes);
  const auto max_detections = static_cast<size_t>(o.max_detections);
  // The best detections so far (a prefix of `kept` entries), then room for
  // one class's survivors.
  std::vector<Candidate> merged(n + max_detections);
  std::vector<float> merged_scores(n + max_detections);
  std::vector<int32_t> order(n + max_detections);
  std::vector<Candidate> sorted(max_detections);
  std::vector<float> sorted_scores(max_detections);
  std::vector<float> class_scores(n);
  int32_t kept = 0;

  for (int32_t c = 0; c < s.num_classes; ++c) {
    for (int32_t box = 0; box < s.num_boxes; ++box) class_scores[static_cast<size_t>(box)] = s.row(box)[c];
    const std::vector<int32_t> selected =
        non_max_suppression_single_class(boxes, class_scores, o, o.detections_per_class);

    auto count = static_cast<size_t>(kept);
    for (const int32_t box : selected) {
      merged[count] = {box, c};
      merged_scores[count] = class_scores[static_cast<size_t>(box)];
      ++count;
    }
    const auto num_to_sort = static_cast<int32_t>(std::min(count, max_detections));
    decreasing_partial_arg_sort(merged_scores.data(), static_cast<int32_t>(count), num_to_sort, order.data());
    for (size_t r = 0; r < static_cast<size_t>(num_to_sort); ++r) {
      sorted[r] = merged[static_cast<size_t>(order[r])];
      sorted_scores[r] = merged_scores[static_cast<size_t>(order[r])];
    }
    std::copy_n(sorted.begin(), num_to_sort, merged.begin());
    std::copy_n(sorted_scores.begin(), num_to_sort, merged_scores.begin());
    kept = num_to_sort;
  }

  for (size_t r = 0; r < static_cast<size_t>(kept); ++r) {
    out.boxes[r] = boxes[static_cast<size_t>(merged[r].box)];
    out.classes[r] = static_cast<float>(merged[r].class_index);
    out.scores[r] = merged_scores[r];
  }
  out.num_detections[0] = static_cast<float>(kept);
}

// ---------------------------------------------------------------------------
// The kernel.

// uint8 -> float exactly as TFLite's Dequantizer: (float(q) - zero_point) * scale.
std::array<float, 256> dequantize_table(const Quantization& q) {
  std::array<float, 256> table{};
  for (int v = 0; v < 256; ++v)
    table[static_cast<size_t>(v)] = (static_cast<float>(v) - static_cast<float>(q.zero_point)) * q.scale;
  return table;
}

struct PostProcessPlan {
  PostProcessOptions options;
  int32_t box_encodings = -1, class_predictions = -1;  // tensor ids
  std::array<int32_t, kNumOutputs> outputs{};
  int32_t num_boxes = 0;
  int32_t encoding_length = 0;  // box encodings' last dim, >= 4
  int32_t num_columns = 0;      // class predictions' last dim
  int32_t label_offset = 0;     // 1 with a background column, else 0
  int32_t output_rows = 0;
  DType encodings_type = DType::float32, scores_type = DType::float32;
  std::array<float, 256> encodings_table{}, scores_table{};  // uint8 inputs only
  bool scores_table_increasing = false;  // each entry strictly above the previous
  int32_t min_passing_byte = 256;  // increasing table: the least byte scoring >= nms_score_threshold, 256 if none
  std::vector<CenterSize> anchors;                            // dequantized at prepare
};

class DetectionPostProcess final : public Kernel {
 public:
  explicit DetectionPostProcess(PostProcessPlan plan) : p_(std::move(plan)) {
    const auto n = static_cast<size_t>(p_.num_boxes);
    best_byte_.resize(n);
    ordered_.reserve(n);
    selected_.reserve(static_cast<size_t>(p_.options.max_detections));
    kept_boxes_.reserve(static_cast<size_t>(p_.options.max_detections));
  }

  void eval(const TensorBuffers& buffers) const override {
    const DetectionOutputs out{buffers.out<BoxCorner>(p_.outputs[kDetectionBoxes]),
                               buffers.out<float>(p_.outputs[kDetectionClasses]),
                               buffers.out<float>(p_.outputs[kDetectionScores]),
                               buffers.out<float>(p_.outputs[kNumDetections])};
    const auto rows = static_cast<size_t>(p_.output_rows);
    std::fill_n(out.boxes, rows, BoxCorner{0.0f, 0.0f, 0.0f, 0.0f});
    std::fill_n(out.classes, rows, 0.0f);
    std::fill_n(out.scores, rows, 0.0f);
    out.num_detections[0] = 0.0f;

    if (p_.scores_type == DType::uint8 && p_.scores_table_increasing && !p_.options.use_regular_nms &&
        p_.options.max_classes_per_detection == 1) {
      fast_nms_best_class_uint8(buffers, out);
      return;
    }

    std::vector<BoxCorner> boxes(static_cast<size_t>(p_.num_boxes));
    for (size_t i = 0; i < boxes.size(); ++i) boxes[i] = decode_anchor(buffers, i);

    std::vector<float> dequantized;
    const float* scores = buffers.in<float>(p_.class_predictions);
    if (p_.scores_type == DType::uint8) {
      const uint8_t* q = buffers.in<uint8_t>(p_.class_predictions);
      dequantized.resize(static_cast<size_t>(p_.num_boxes) * static_cast<size_t>(p_.num_columns));
      for (size_t i = 0; i < dequantized.size(); ++i) dequantized[i] = p_.scores_table[q[i]];
      scores = dequantized.data();
    }
    const ScoreMatrix matrix{scores, p_.num_boxes, p_.num_columns, p_.label_offset, p_.options.num_classes};

    if (p_.options.use_regular_nms)
      non_max_suppression_multi_class_regular(boxes, matrix, p_.options, out);
    else
      non_max_suppression_multi_class_fast(boxes, matrix, p_.options, out);
  }

 private:
  // non_max_suppression_multi_class_fast with one class per anchor, on uint8
  // scores whose table is strictly increasing: a score passes the threshold
  // exactly when its byte is at least p_.min_passing_byte, and a row's best
  // class (the first of the largest, as the arg max on floats picks it) is
  // the first column holding its largest byte. So the score matrix is never
  // dequantized, the candidates sort by their byte in one counting pass, and
  // only the boxes the suppression visits are decoded.
  void fast_nms_best_class_uint8(const TensorBuffers& buffers, const DetectionOutputs& out) const {
    const uint8_t* q = buffers.in<uint8_t>(p_.class_predictions);
    const auto n = static_cast<size_t>(p_.num_boxes);
    const auto columns = static_cast<size_t>(p_.num_columns);
    const auto classes = static_cast<size_t>(p_.options.num_classes);
    const auto row_of = [&](size_t box) { return q + box * columns + static_cast<size_t>(p_.label_offset); };
    std::array<size_t, 256> count{};  // candidates per best byte
    for (size_t box = 0; box < n; ++box) {
      const uint8_t* row = row_of(box);
      uint8_t best = 0;
      for (size_t c = 0; c < classes; ++c) best = std::max(best, row[c]);
      best_byte_[box] = best;
      if (best >= p_.min_passing_byte) ++count[best];
    }
    // The candidates by decreasing byte, anchor order within a byte: the
    // stable sort by decreasing score, as a counting sort.
    std::array<size_t, 256> start{};  // where each byte's run begins
    for (size_t v = 255; v-- > 0;) start[v] = start[v + 1] + count[v + 1];
    ordered_.resize(start[0] + count[0]);
    for (size_t box = 0; box < n; ++box)
      if (best_byte_[box] >= p_.min_passing_byte) ordered_[start[best_byte_[box]]++] = static_cast<int32_t>(box);

    greedy_suppression(
        ordered_, p_.options.nms_iou_threshold, p_.options.max_detections,
        [&](int32_t anchor) { return decode_anchor(buffers, static_cast<size_t>(anchor)); }, selected_, kept_boxes_);
    for (size_t i = 0; i < selected_.size(); ++i) {
      const auto box = static_cast<size_t>(selected_[i]);
      const uint8_t* row = row_of(box);
      const uint8_t best = best_byte_[box];
      out.boxes[i] = kept_boxes_[i];
      out.classes[i] = static_cast<float>(static_cast<const uint8_t*>(std::memchr(row, best, classes)) - row);
      out.scores[i] = p_.scores_table[best];
    }
    out.num_detections[0] = static_cast<float>(selected_.size());
  }

  BoxCorner decode_anchor(const TensorBuffers& buffers, size_t i) const {
    const CenterSize scale{p_.options.y_scale, p_.options.x_scale, p_.options.h_scale, p_.options.w_scale};
    const auto offset = i * static_cast<size_t>(p_.encoding_length);
    if (p_.encodings_type == DType::uint8) {
      const uint8_t* e = buffers.in<uint8_t>(p_.box_encodings) + offset;
      const auto& t = p_.encodings_table;
      return decode_box({t[e[0]], t[e[1]], t[e[2]], t[e[3]]}, p_.anchors[i], scale);
    }
    const float* e = buffers.in<float>(p_.box_encodings) + offset;
    return decode_box({e[0], e[1], e[2], e[3]}, p_.anchors[i], scale);
  }

  PostProcessPlan p_;
  // Scratch for the fast path, sized at prepare: an Engine, so its kernels,
  // serve one thread.
  mutable std::vector<uint8_t> best_byte_;
  mutable std::vector<int32_t> ordered_, selected_;
  mutable std::vector<BoxCorner> kept_boxes_;
};

void require_uint8_or_float(const OpContext& ctx, const char* role, const Tensor& t) {
  ctx.require(t.type == DType::uint8 || t.type == DType::float32,
              std::string(role) + " tensor '" + t.name + "' is " + dtype_name(t.type) + ", must be uint8 or float32");
  ctx.require_quantized(t);
}

std::vector<CenterSize> read_anchors(const OpContext& ctx, const Tensor& t) {
  const auto n = static_cast<size_t>(t.dim(0));
  std::vector<CenterSize> anchors(n);
  if (t.type == DType::uint8) {
    const std::array<float, 256> table = dequantize_table(t.quant);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* a = t.constant + i * kNumCoordBox;
      anchors[i] = {table[a[0]], table[a[1]], table[a[2]], table[a[3]]};
    }
  } else {
    static_assert(sizeof(CenterSize) == sizeof(float) * kNumCoordBox);
    std::memcpy(anchors.data(), t.constant, n * sizeof(CenterSize));
  }
  for (size_t i = 0; i < n; ++i) {
    const CenterSize& a = anchors[i];
    const bool finite = std::isfinite(a.y) && std::isfinite(a.x) && std::isfinite(a.h) && std::isfinite(a.w);
    ctx.require(finite && a.h >= 0.0f && a.w >= 0.0f,
                "anchor " + std::to_string(i) + " of tensor '" + t.name + "' is (y " + std::to_string(a.y) +
                    ", x " + std::to_string(a.x) + ", h " + std::to_string(a.h) + ", w " + std::to_string(a.w) +
                    "); anchors must be finite with h >= 0 and w >= 0");
  }
  return anchors;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public entry points.

std::string postprocess_options_problem(const PostProcessOptions& o) {
  const auto out_of = [](const char* key, auto value, const std::string& rule) {
    return std::string(key) + " = " + std::to_string(value) + " must be " + rule;
  };
  if (o.max_detections < 1 || o.max_detections > kMaxDetectionsLimit)
    return out_of("max_detections", o.max_detections, "in [1, " + std::to_string(kMaxDetectionsLimit) + "]");
  if (o.num_classes < 1 || o.num_classes > kNumClassesLimit)
    return out_of("num_classes", o.num_classes, "in [1, " + std::to_string(kNumClassesLimit) + "]");
  if (o.max_classes_per_detection < 1 || o.max_classes_per_detection > o.num_classes)
    return out_of("max_classes_per_detection", o.max_classes_per_detection,
                  "in [1, num_classes = " + std::to_string(o.num_classes) + "]");
  if (static_cast<int64_t>(o.max_detections) * o.max_classes_per_detection > kOutputRowsLimit)
    return "max_detections * max_classes_per_detection = " + std::to_string(o.max_detections) + " * " +
           std::to_string(o.max_classes_per_detection) + " must be <= " + std::to_string(kOutputRowsLimit);
  // Only the regular NMS uses detections_per_class; SSD MobileNet V2's
  // options (fast NMS) store 0 there.
  if (o.detections_per_class < 0) return out_of("detections_per_class", o.detections_per_class, ">= 0");
  if (o.use_regular_nms && o.detections_per_class < 1)
    return out_of("detections_per_class", o.detections_per_class, ">= 1 with use_regular_nms");
  if (!std::isfinite(o.nms_score_threshold)) return out_of("nms_score_threshold", o.nms_score_threshold, "finite");
  if (!(o.nms_iou_threshold > 0.0f && o.nms_iou_threshold <= 1.0f))
    return out_of("nms_iou_threshold", o.nms_iou_threshold, "in (0, 1]");
  const std::pair<const char*, float> scales[] = {
      {"y_scale", o.y_scale}, {"x_scale", o.x_scale}, {"h_scale", o.h_scale}, {"w_scale", o.w_scale}};
  for (const auto& [key, value] : scales)
    if (!(std::isfinite(value) && value > 0.0f)) return out_of(key, value, "finite and > 0");
  return "";
}

PostProcessOptions parse_postprocess_options(const uint8_t* data, size_t size) {
  // The verifier asserts size < FLATBUFFERS_MAX_BUFFER_SIZE; a few hundred
  // bytes is what the op needs.
  if (data == nullptr || size == 0 || size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    throw Error(kOptionsWhat + ": " + std::to_string(size) + " bytes is not a FlexBuffer");
  if (!flexbuffers::VerifyBuffer(data, size))
    throw Error(kOptionsWhat + ": " + std::to_string(size) + " bytes fail FlexBuffer verification");
  const flexbuffers::Reference root = flexbuffers::GetRoot(data, size);
  if (!root.IsMap())
    throw Error(kOptionsWhat + ": the root is a " + flex_type_name(root.GetType()) + ", must be a map");
  const flexbuffers::Map map = root.AsMap();
  const OptionsReader r(map);

  PostProcessOptions o;
  o.max_detections = r.get_int("max_detections");
  o.max_classes_per_detection = r.get_int("max_classes_per_detection");
  if (r.has("detections_per_class")) o.detections_per_class = r.get_int("detections_per_class");
  if (r.has("use_regular_nms")) o.use_regular_nms = r.get_bool("use_regular_nms");
  o.nms_score_threshold = r.get_float("nms_score_threshold");
  o.nms_iou_threshold = r.get_float("nms_iou_threshold");
  o.num_classes = r.get_int("num_classes");
  o.y_scale = r.get_float("y_scale");
  o.x_scale = r.get_float("x_scale");
  o.h_scale = r.get_float("h_scale");
  o.w_scale = r.get_float("w_scale");
  const std::string problem = postprocess_options_problem(o);
  if (!problem.empty()) throw Error(kOptionsWhat + ": " + problem);
  return o;
}

std::array<std::vector<int32_t>, 4> postprocess_output_shapes(const PostProcessOptions& o) {
  const int32_t rows = o.max_detections * o.max_classes_per_detection;
  return {std::vector<int32_t>{kBatchSize, rows, kNumCoordBox}, std::vector<int32_t>{kBatchSize, rows},
          std::vector<int32_t>{kBatchSize, rows}, std::vector<int32_t>{1}};
}

std::unique_ptr<Kernel> prepare_detection_postprocess(const OpContext& ctx) {
  const auto* options = std::get_if<PostProcessOptions>(&ctx.op().options);
  ctx.require(options != nullptr, "has no post-process options (custom options not decoded)");
  const std::string problem = postprocess_options_problem(*options);
  ctx.require(problem.empty(), "option " + problem);
  ctx.require_inputs(3);
  ctx.require_outputs(kNumOutputs);

  PostProcessPlan p;
  p.options = *options;

  // Box encodings [1, N, >=4].
  const Tensor& encodings = ctx.input(kBoxEncodings);
  require_uint8_or_float(ctx, "box encodings", encodings);
  ctx.require_rank(encodings, 3);
  ctx.require(encodings.dim(0) == kBatchSize && encodings.dim(1) >= 1 && encodings.dim(2) >= kNumCoordBox,
              "box encodings tensor '" + encodings.name + "' has shape " + shape_string(encodings.shape) +
                  ", must be [1, N >= 1, >= 4]");
  p.box_encodings = ctx.input_index(kBoxEncodings);
  p.num_boxes = encodings.dim(1);
  p.encoding_length = encodings.dim(2);
  p.encodings_type = encodings.type;
  if (encodings.type == DType::uint8) p.encodings_table = dequantize_table(encodings.quant);

  // Class predictions [1, N, num_classes (+1)].
  const Tensor& predictions = ctx.input(kClassPredictions);
  require_uint8_or_float(ctx, "class predictions", predictions);
  ctx.require_rank(predictions, 3);
  const int32_t num_classes = options->num_classes;
  ctx.require(predictions.dim(0) == kBatchSize && predictions.dim(1) == p.num_boxes &&
                  (predictions.dim(2) == num_classes || predictions.dim(2) == num_classes + 1),
              "class predictions tensor '" + predictions.name + "' has shape " + shape_string(predictions.shape) +
                  ", must be [1, " + std::to_string(p.num_boxes) + ", num_classes = " +
                  std::to_string(num_classes) + " or num_classes + 1 (background first)]");
  p.class_predictions = ctx.input_index(kClassPredictions);
  p.num_columns = predictions.dim(2);
  p.label_offset = p.num_columns - num_classes;
  p.scores_type = predictions.type;
  if (predictions.type == DType::uint8) {
    p.scores_table = dequantize_table(predictions.quant);
    p.scores_table_increasing = true;
    for (size_t v = 1; v < p.scores_table.size(); ++v)
      p.scores_table_increasing = p.scores_table_increasing && p.scores_table[v - 1] < p.scores_table[v];
    const auto passing = std::find_if(p.scores_table.begin(), p.scores_table.end(),
                                      [&](float score) { return score >= options->nms_score_threshold; });
    p.min_passing_byte = static_cast<int32_t>(passing - p.scores_table.begin());
  }

  // Anchors [N, 4], constant.
  const Tensor& anchors = ctx.input(kAnchors);
  require_uint8_or_float(ctx, "anchors", anchors);
  ctx.require_rank(anchors, 2);
  ctx.require(anchors.dim(0) == p.num_boxes && anchors.dim(1) == kNumCoordBox,
              "anchors tensor '" + anchors.name + "' has shape " + shape_string(anchors.shape) + ", must be [" +
                  std::to_string(p.num_boxes) + ", 4] (one anchor per box encoding)");
  ctx.require_constant(anchors);
  ctx.require(anchors.bytes == anchors.elements() * dtype_size(anchors.type),
              "anchors tensor '" + anchors.name + "' holds " + std::to_string(anchors.bytes) + " bytes, expected " +
                  std::to_string(anchors.elements() * dtype_size(anchors.type)));
  p.anchors = read_anchors(ctx, anchors);

  // Outputs: float32 with the shapes TFLite's Prepare() gives them.
  const auto shapes = postprocess_output_shapes(*options);
  static constexpr const char* kOutputNames[kNumOutputs] = {"detection boxes", "detection classes",
                                                            "detection scores", "num detections"};
  for (size_t i = 0; i < kNumOutputs; ++i) {
    const Tensor& t = ctx.output(i);
    ctx.require(t.type == DType::float32 && t.shape == shapes[i],
                std::string(kOutputNames[i]) + " output tensor '" + t.name + "' is " + dtype_name(t.type) + " " +
                    shape_string(t.shape) + ", must be float32 " + shape_string(shapes[i]) +
                    " (max_detections * max_classes_per_detection rows)");
    p.outputs[i] = ctx.output_index(i);
  }
  p.output_rows = options->max_detections * options->max_classes_per_detection;

  return std::make_unique<DetectionPostProcess>(std::move(p));
}

}  // namespace lookout::engine
