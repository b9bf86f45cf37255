#include "cli/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace lookout::cli {

namespace {

// A 5x8 bitmap font for printable ASCII, drawn for Lookout: rows top to
// bottom, '#' = ink. Rows 0-6 hold capitals and digits (baseline under row
// 6); row 7 is for descenders (g, j, p, q, y, comma, underscore).
constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;
constexpr int kAdvance = kGlyphWidth + 1;  // one empty column between characters

struct Glyph {
  char c;
  const char* rows[kGlyphHeight];
};

constexpr Glyph kFont[] = {
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'!', {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#..", "....."}},
    {'"', {".#.#.", ".#.#.", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'#', {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#.", "....."}},
    {'$', {"..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#..", "....."}},
    {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##", "....."}},
    {'&', {".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#", "....."}},
    {'\'', {"..#..", "..#..", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#.", "....."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#...", "....."}},
    {'*', {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", ".....", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", ".....", "....."}},
    {',', {".....", ".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", ".....", "....."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "....."}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", ".....", "....."}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###.", "....."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####", "....."}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###.", "....."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.", "....."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###.", "....."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###.", "....."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#...", "....."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###.", "....."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##..", "....."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", ".....", "....."}},
    {';', {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#...", "....."}},
    {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#.", "....."}},
    {'=', {".....", ".....", "#####", ".....", "#####", ".....", ".....", "....."}},
    {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#...", "....."}},
    {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#..", "....."}},
    {'@', {".###.", "#...#", "....#", ".##.#", "#.#.#", "#.#.#", ".###.", "....."}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####.", "....."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###.", "....."}},
    {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###..", "....."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####", "....."}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#....", "....."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####", "....."}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#", "....."}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##..", "....."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#", "....."}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####", "....."}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#", "....."}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "....."}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.", "....."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#....", "....."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#", "....."}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#", "....."}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####.", "....."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "....."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.", "....."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#..", "....."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#.", "....."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#", "....."}},
    {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#..", "....."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####", "....."}},
    {'[', {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###.", "....."}},
    {'\\', {".....", "#....", ".#...", "..#..", "...#.", "....#", ".....", "....."}},
    {']', {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###.", "....."}},
    {'^', {"..#..", ".#.#.", "#...#", ".....", ".....", ".....", ".....", "....."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'`', {".#...", "..#..", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####", "....."}},
    {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####.", "....."}},
    {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###.", "....."}},
    {'d', {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####", "....."}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###.", "....."}},
    {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#...", "....."}},
    {'g', {".....", ".....", ".####", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#", "....."}},
    {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###.", "....."}},
    {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "....."}},
    {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.", "....."}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#", "....."}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#", "....."}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###.", "....."}},
    {'p', {".....", ".....", "####.", "#...#", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".####", "#...#", "#...#", ".####", "....#", "....#"}},
    {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#....", "....."}},
    {'s', {".....", ".....", ".####", "#....", ".###.", "....#", "####.", "....."}},
    {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##.", "....."}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#", "....."}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#..", "....."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#.", "....."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "....."}},
    {'y', {".....", ".....", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####", "....."}},
    {'{', {"...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#.", "....."}},
    {'|', {"..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "....."}},
    {'}', {".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#...", "....."}},
    {'~', {".....", ".....", ".#...", "#.#.#", "...#.", ".....", ".....", "....."}},
};

constexpr char kFirstGlyph = ' ';
constexpr char kLastGlyph = '~';

// The table is indexed by c - ' ': every printable character, in order,
// every row exactly kGlyphWidth of '#' or '.'.
constexpr bool font_is_well_formed() {
  if (std::size(kFont) != static_cast<size_t>(kLastGlyph - kFirstGlyph + 1)) return false;
  for (size_t i = 0; i < std::size(kFont); ++i) {
    if (kFont[i].c != static_cast<char>(kFirstGlyph + static_cast<int>(i))) return false;
    for (const char* row : kFont[i].rows) {
      int n = 0;
      for (; row[n] != '\0'; ++n)
        if (row[n] != '#' && row[n] != '.') return false;
      if (n != kGlyphWidth) return false;
    }
  }
  return true;
}
static_assert(font_is_well_formed(), "kFont: one 5x8 glyph per printable ASCII character, in order");

const Glyph& glyph(char c) {
  if (c < kFirstGlyph || c > kLastGlyph) c = '?';
  return kFont[c - kFirstGlyph];
}

// Fills [x0, x1) x [y0, y1), clipped to the image.
void fill_rect(image::Image& img, int x0, int y0, int x1, int y1, Rgb color) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width);
  y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y) {
    uint8_t* p = img.rgb.data() + (static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x0)) * 3;
    for (int x = x0; x < x1; ++x, p += 3) {
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  }
}

// Outline of [x0, x1) x [y0, y1), `width` pixels thick, drawn inward.
void stroke_rect(image::Image& img, int x0, int y0, int x1, int y1, int width, Rgb color) {
  fill_rect(img, x0, y0, x1, std::min(y0 + width, y1), color);
  fill_rect(img, x0, std::max(y1 - width, y0), x1, y1, color);
  fill_rect(img, x0, y0, std::min(x0 + width, x1), y1, color);
  fill_rect(img, std::max(x1 - width, x0), y0, x1, y1, color);
}

Rgb from_hsv(double h, double s, double v) {
  const double i = std::floor(h * 6.0);
  const double f = h * 6.0 - i;
  const double p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(i) % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto u8 = [](double x) { return static_cast<uint8_t>(std::clamp(std::lround(x * 255.0), 0L, 255L)); };
  return {u8(r), u8(g), u8(b)};
}

// Perceived brightness 0-255 (Rec. 601 weights), to pick black or white text.
int luma(Rgb c) { return (299 * c.r + 587 * c.g + 114 * c.b) / 1000; }

int to_pixel(float v, double scale) { return static_cast<int>(std::lround(static_cast<double>(v) * scale)); }

}  // namespace

Rgb class_color(int class_id) {
  const double golden = 0.6180339887498949;
  const double hue = std::fmod(0.11 + golden * static_cast<double>(class_id < 0 ? -class_id : class_id), 1.0);
  return from_hsv(hue, 0.85, 0.95);
}

int text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * kAdvance - 1) * scale;
}

int text_height(int scale) { return kGlyphHeight * scale; }

void draw_text(image::Image& img, int x, int y, const std::string& text, int scale, Rgb color) {
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph(text[i]);
    const int gx = x + static_cast<int>(i) * kAdvance * scale;
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int c = 0; c < kGlyphWidth; ++c)
        if (g.rows[r][c] == '#')
          fill_rect(img, gx + c * scale, y + r * scale, gx + (c + 1) * scale, y + (r + 1) * scale, color);
  }
}

void draw_detections(image::Image& img, const std::vector<detect::Detection>& detections, int source_width,
                     int source_height) {
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3)
    throw std::invalid_argument("draw_detections: inconsistent image");
  const double sx = source_width > 0 ? static_cast<double>(img.width) / source_width : 1.0;
  const double sy = source_height > 0 ? static_cast<double>(img.height) / source_height : 1.0;
  // Sizes follow the image's geometric mean side, so a panorama does not get
  // giant labels: 2 px lines and 2x text at 640x480, 3 and 3 at 1352x900.
  const double side = std::sqrt(static_cast<double>(img.width) * static_cast<double>(img.height));
  const int line = std::clamp(static_cast<int>(std::lround(side / 400.0)), 2, 8);
  const int scale = std::clamp(static_cast<int>(std::lround(side / 400.0)), 1, 8);
  const int pad = scale + 1;

  // Boxes first, then labels, so no box line crosses a label; the weakest
  // detections are drawn first so the best ones end up on top.
  for (auto it = detections.rbegin(); it != detections.rend(); ++it) {
    const int x0 = to_pixel(it->box_px.xmin, sx), y0 = to_pixel(it->box_px.ymin, sy);
    const int x1 = to_pixel(it->box_px.xmax, sx), y1 = to_pixel(it->box_px.ymax, sy);
    stroke_rect(img, x0, y0, std::max(x1, x0 + 1), std::max(y1, y0 + 1), line, class_color(it->class_id));
  }
  for (auto it = detections.rbegin(); it != detections.rend(); ++it) {
    char score[16];
    std::snprintf(score, sizeof score, "%.2f", static_cast<double>(it->score));
    const std::string text = it->label + " " + score;
    const Rgb bg = class_color(it->class_id);
    const int w = text_width(text, scale) + 2 * pad, h = text_height(scale) + 2 * pad;
    const int bx = to_pixel(it->box_px.xmin, sx), by = to_pixel(it->box_px.ymin, sy);
    // Above the box when there is room, else just inside its top edge.
    int x = std::clamp(bx, 0, std::max(0, img.width - w));
    int y = by - h >= 0 ? by - h : by;
    y = std::clamp(y, 0, std::max(0, img.height - h));
    fill_rect(img, x, y, x + w, y + h, bg);
    draw_text(img, x + pad, y + pad, text, scale, luma(bg) > 140 ? Rgb{0, 0, 0} : Rgb{255, 255, 255});
  }
}


}  // namespace lookout::cli
