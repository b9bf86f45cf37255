// labelme-examples' PASCAL VOC annotations (data/small/annotations/*.xml):
// every annotated object of a class the model knows is found by a confident
// detection (score >= 0.5) of that class with IoU >= 0.5, except the known
// misses listed below with their reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "detect_test_util.h"

namespace lookout::detect {
namespace {

// ---------------------------------------------------------------------------
// A reader for VOC's flat annotation XML, just enough for these files:
//   <annotation> <filename>F</filename> <size><width>W</width><height>H</height></size>
//     <object> <name>N</name> ... <bndbox><xmin>..</xmin><ymin>..</ymin><xmax>..</xmax><ymax>..</ymax></bndbox>
//     </object> ...
// No attributes, entities, CDATA or comments are needed (none occur).

struct VocObject {
  std::string name;
  Box box;  // pixels
};

struct VocAnnotation {
  std::string filename;
  int width = 0, height = 0;
  std::vector<VocObject> objects;
};

// The text between <tag> and </tag> in xml[from, to), or throws.
std::string element(const std::string& xml, const std::string& tag, size_t from = 0,
                    size_t to = std::string::npos) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  const size_t a = xml.find(open, from);
  if (a == std::string::npos || a >= to) throw std::runtime_error("no <" + tag + "> element");
  const size_t b = xml.find(close, a + open.size());
  if (b == std::string::npos || b > to) throw std::runtime_error("<" + tag + "> is not closed");
  return xml.substr(a + open.size(), b - a - open.size());
}

float number(const std::string& xml, const std::string& tag) {
  const std::string text = element(xml, tag);
  size_t used = 0;
  float v = 0;
  try {
    v = std::stof(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || text.find_first_not_of(" \t\r\n", used) != std::string::npos)
    throw std::runtime_error("<" + tag + "> is not a number: '" + text + "'");
  return v;
}

VocAnnotation parse_voc(const std::string& xml) {
  VocAnnotation a;
  a.filename = element(xml, "filename");
  const std::string size = element(xml, "size");
  a.width = static_cast<int>(number(size, "width"));
  a.height = static_cast<int>(number(size, "height"));
  for (size_t pos = xml.find("<object>"); pos != std::string::npos; pos = xml.find("<object>", pos + 1)) {
    const std::string obj = element(xml, "object", pos);
    const std::string bndbox = element(obj, "bndbox");
    const Box box{number(bndbox, "xmin"), number(bndbox, "ymin"), number(bndbox, "xmax"), number(bndbox, "ymax")};
    a.objects.push_back({element(obj, "name"), box});
  }
  return a;
}

TEST(VocReader, ReadsTheFlatFormat) {
  const VocAnnotation a = parse_voc(R"(<annotation>
  <folder/>
  <filename>x.jpg</filename>
  <size>
    <height>338</height>
    <width>500</width>
    <depth>3</depth>
  </size>
  <object>
    <name>person</name>
    <pose/>
    <bndbox>
      <xmin>191.0</xmin>
      <ymin>107.36900369003689</ymin>
      <xmax>313.0</xmax>
      <ymax>329</ymax>
    </bndbox>
  </object>
  <object><name>tvmonitor</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
</annotation>)");
  EXPECT_EQ(a.filename, "x.jpg");
  EXPECT_EQ(a.width, 500);
  EXPECT_EQ(a.height, 338);
  ASSERT_EQ(a.objects.size(), 2u);
  EXPECT_EQ(a.objects[0].name, "person");
  EXPECT_FLOAT_EQ(a.objects[0].box.ymin, 107.369f);
  EXPECT_FLOAT_EQ(a.objects[0].box.ymax, 329.0f);
  EXPECT_EQ(a.objects[1].name, "tvmonitor");
  EXPECT_FLOAT_EQ(a.objects[1].box.xmax, 3.0f);
  EXPECT_THROW(parse_voc("<annotation><filename>x</filename></annotation>"), std::runtime_error);  // no size
  EXPECT_THROW(parse_voc("<filename>x</filename><size><width>5</width><height>z</height></size>"),
               std::runtime_error);
  EXPECT_THROW(parse_voc("<filename>x</filename><size><width>5</width><height>5</height></size>"
                         "<object><name>dog</name></object>"),
               std::runtime_error);  // no bndbox
}

// ---------------------------------------------------------------------------
// VOC's 20 classes under their COCO names (coco_labels.txt).

std::string coco_name(const std::string& voc) {
  static const std::map<std::string, std::string> renamed = {
      {"aeroplane", "airplane"}, {"diningtable", "dining table"}, {"motorbike", "motorcycle"},
      {"pottedplant", "potted plant"}, {"sofa", "couch"}, {"tvmonitor", "tv"}};
  const auto it = renamed.find(voc);
  return it == renamed.end() ? voc : it->second;
}

TEST(VocReader, EveryVocClassIsACocoClass) {
  LOOKOUT_REQUIRE_MODEL();
  for (const char* voc : {"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                          "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
                          "train", "tvmonitor"})
    EXPECT_GE(testing::real_labels()->find(coco_name(voc)), 0) << voc << " -> " << coco_name(voc);
}

// Annotated objects this model does not find with score >= 0.5 (TensorFlow
// Lite's own runtime gives the same scores: tests/oracle/oracle.js).
struct KnownMiss {
  const char* file;
  size_t object;  // index among the file's <object> elements
  const char* reason;
};
const KnownMiss kKnownMisses[] = {
    {"2011_000006.xml", 3,
     "person at the back right (395,81)-(447,117): a head and shoulders in the dark behind the sofa; "
     "the model scores it person 0.16"},
    {"2011_000025.xml", 2,
     "car at the right edge (409,167)-(500,266), cut off by the frame and half hidden by the bus; "
     "the model scores it car 0.34"},
};

const KnownMiss* known_miss(const std::string& file, size_t object) {
  for (const KnownMiss& m : kKnownMisses)
    if (file == m.file && object == m.object) return &m;
  return nullptr;
}

TEST(Voc, ConfidentDetectionsMatchTheAnnotatedBoxes) {
  LOOKOUT_REQUIRE_MODEL();
  const std::filesystem::path dir = testing::photo_dir() / "annotations";
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".xml" && e.path().filename().string().rfind("20", 0) == 0)  // VOC's 2011_*.xml
        files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.size() < 3) GTEST_SKIP() << dir << " lacks the VOC annotations: run scripts/setup";

  Detector detector(testing::real_model(), testing::real_labels(), {});
  size_t matched = 0, misses = 0;
  for (const auto& xml_path : files) {
    const std::string file = xml_path.filename().string();
    const std::vector<uint8_t> xml_bytes = testing::read_bytes(xml_path);
    const VocAnnotation a = parse_voc(std::string(xml_bytes.begin(), xml_bytes.end()));
    const auto photo = testing::photo_dir() / ("labelme-examples__" + a.filename);
    ASSERT_TRUE(std::filesystem::exists(photo)) << photo;
    const Result r = detector.detect(testing::read_bytes(photo));  // score >= 0.5
    EXPECT_EQ(r.width, a.width) << file;
    EXPECT_EQ(r.height, a.height) << file;
    ASSERT_FALSE(a.objects.empty()) << file;
    for (size_t i = 0; i < a.objects.size(); ++i) {
      const VocObject& o = a.objects[i];
      const std::string label = coco_name(o.name);
      ASSERT_GE(testing::real_labels()->find(label), 0) << file << ": '" << o.name << "' is no COCO class";
      float best = 0;
      for (const Detection& d : r.detections)
        if (d.label == label) best = std::max(best, testing::iou(d.box_px, o.box));
      const KnownMiss* miss = known_miss(file, i);
      if (miss == nullptr) {
        EXPECT_GE(best, 0.5f) << file << " object " << i << ": " << o.name << " " << testing::to_string(o.box)
                              << " best IoU " << best << "\ndetections: " << testing::describe(r.detections);
        matched += best >= 0.5f;
      } else {
        // Kept honest: a known miss that starts being found leaves the list.
        EXPECT_LT(best, 0.5f) << file << " object " << i << " is found now (IoU " << best
                              << "): remove it from kKnownMisses (" << miss->reason << ")";
        ++misses;
      }
    }
  }
  EXPECT_EQ(misses, std::size(kKnownMisses)) << "every known miss names an existing object";
  EXPECT_GE(matched, 7u);  // 2 people in 000003, 3 in 000006, 2 buses in 000025
}

}  // namespace
}  // namespace lookout::detect
