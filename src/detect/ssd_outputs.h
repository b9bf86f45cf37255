// The four graph outputs of an SSD model's TFLite_Detection_PostProcess op
// (boxes, classes, scores, count), read from an engine after invoke().
#pragma once

#include <cstddef>
#include <vector>

#include "engine/engine.h"

namespace lookout::detect {

// Graph output positions of TFLite_Detection_PostProcess.
inline constexpr size_t kSsdBoxes = 0, kSsdClasses = 1, kSsdScores = 2, kSsdCount = 3;
inline constexpr size_t kSsdOutputs = 4;

// Graph output `position` as floats (copied: its buffer need not be aligned
// for float).
std::vector<float> output_floats(const engine::Engine& engine, size_t position);

struct SsdOutputs {
  struct Box { float ymin, xmin, ymax, xmax; };  // normalized [0,1]
  std::vector<Box> boxes;      // `count` entries
  std::vector<int> classes;    // 0-based class index (coco_labels.txt id)
  std::vector<float> scores;
  int count = 0;
};

// Graph outputs 0..3 as TFLite emits them; throws engine::Error if the model
// has no detection post-process outputs of consistent float32 sizes.
SsdOutputs read_ssd_outputs(const engine::Engine& engine);

}  // namespace lookout::detect
