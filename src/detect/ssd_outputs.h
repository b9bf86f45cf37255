// The four graph outputs of an SSD model's TFLite_Detection_PostProcess op
// (boxes, classes, scores, count), read from an engine after invoke().
#pragma once

#include <vector>

#include "engine/engine.h"

namespace lookout::detect {

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
