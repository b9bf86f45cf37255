// TFLite_Detection_PostProcess (a CUSTOM op): options from its FlexBuffer
// custom options, and the output shapes TFLite's Prepare() gives the op.
// The kernel itself is prepare_detection_postprocess() (engine/kernel.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace lookout::engine {

// The custom_code the model reader maps to OpKind::detection_postprocess.
inline constexpr const char* kDetectionPostProcessCustomCode = "TFLite_Detection_PostProcess";

// Bounds on the options, beyond what TFLite itself checks. They keep the
// outputs and the work per image small while covering every SSD model seen
// in practice (max_detections 10..100, num_classes 90 or 91, one class per
// detection).
inline constexpr int32_t kMaxDetectionsLimit = 1000;
inline constexpr int32_t kNumClassesLimit = 10000;
// max_detections * max_classes_per_detection: the rows of each output.
inline constexpr int32_t kOutputRowsLimit = 100000;

// Decodes and checks the FlexBuffer map of the op's custom options (keys as
// in TFLite's detection_postprocess.cc Init()). The buffer is verified first,
// so a truncated or hostile one is refused, never read out of bounds.
// Required: max_detections, max_classes_per_detection, nms_score_threshold,
// nms_iou_threshold, num_classes, y_scale, x_scale, h_scale, w_scale.
// Optional: detections_per_class (default 100), use_regular_nms (default
// false). Other keys (e.g. _output_quantized) are ignored.
// Throws lookout::engine::Error naming the key, the value and the rule.
PostProcessOptions parse_postprocess_options(const uint8_t* data, size_t size);

// The rule the options break, or "" when they are sane:
//   1 <= max_detections <= kMaxDetectionsLimit
//   1 <= num_classes <= kNumClassesLimit
//   1 <= max_classes_per_detection <= num_classes
//   max_detections * max_classes_per_detection <= kOutputRowsLimit
//   detections_per_class >= 1 with use_regular_nms, else >= 0 (the fast
//   NMS ignores it; SSD MobileNet V2 stores 0)
//   nms_score_threshold finite, 0 < nms_iou_threshold <= 1
//   y_scale, x_scale, h_scale, w_scale finite and > 0
// Shared by the parser and by prepare (which also sees options built in code).
std::string postprocess_options_problem(const PostProcessOptions& options);

// Shapes of the four outputs (boxes, classes, scores, num_detections):
// [1, R, 4], [1, R], [1, R], [1] with R = max_detections *
// max_classes_per_detection, all float32. TFLite's Prepare() resizes the
// outputs to these; .tflite files usually declare them with an empty shape
// (the SSD MobileNet V2 model does), so the model reader sets them from the
// options before the kernel is prepared.
std::array<std::vector<int32_t>, 4> postprocess_output_shapes(const PostProcessOptions& options);

}  // namespace lookout::engine
