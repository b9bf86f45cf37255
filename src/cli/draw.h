// Detections drawn on a photo for a person to look at: a box per object in a
// colour per class, a filled label "dog 0.96" in a small built-in bitmap
// font (image::encode_jpeg writes the result).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "image/image.h"

namespace lookout::cli {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// A distinct, stable colour for a class index (hues spread by the golden ratio).
Rgb class_color(int class_id);

// Draws each detection's box_px (pixels of an image `source_width` x
// `source_height`, scaled to `img` if its size differs) with its label and
// score. Line width and text size grow with the image; everything is
// clipped to the image.
void draw_detections(image::Image& img, const std::vector<detect::Detection>& detections, int source_width,
                     int source_height);

// Draws `text` with its top-left corner at (x, y), each font pixel `scale`
// image pixels; characters outside printable ASCII are drawn as '?'.
void draw_text(image::Image& img, int x, int y, const std::string& text, int scale, Rgb color);

// Width and height in pixels of `text` drawn at `scale`.
int text_width(const std::string& text, int scale);
int text_height(int scale);

}  // namespace lookout::cli
