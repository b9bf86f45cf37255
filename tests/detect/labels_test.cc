// Labels: the real coco_labels.txt (ids with gaps), lookups by id and name,
// class lists, and malformed files refused with file:line.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "detect/detector.h"
#include "detect_test_util.h"

namespace lookout::detect {
namespace {

using testing::labels_path;

// The error message of what `f` throws as E, or "" when it does not throw.
template <class E, class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

TEST(Labels, RealFileHasTheCocoClassesWithGaps) {
  if (!std::filesystem::exists(labels_path())) GTEST_SKIP() << labels_path() << " missing: run scripts/setup";
  const auto labels = Labels::from_file(labels_path());
  // COCO's 80 object classes spread over its 90 category ids; the file's ids
  // are the model's 0-based class indices (category id - 1).
  ASSERT_EQ(labels->entries().size(), 80u);
  EXPECT_EQ(labels->entries().front(), std::make_pair(0, std::string("person")));
  EXPECT_EQ(labels->entries().back(), std::make_pair(89, std::string("toothbrush")));
  for (int missing : {11, 25, 28, 29, 44, 65, 67, 68, 70, 82})
    EXPECT_EQ(labels->name(missing), "class " + std::to_string(missing));
  EXPECT_EQ(labels->name(1), "bicycle");
  EXPECT_EQ(labels->name(2), "car");
  EXPECT_EQ(labels->name(7), "truck");
  EXPECT_EQ(labels->name(9), "traffic light");  // two spaces after the id in the file; spaces inside the name kept
  EXPECT_EQ(labels->name(12), "stop sign");
  EXPECT_EQ(labels->name(17), "dog");
  EXPECT_EQ(labels->name(18), "horse");
  EXPECT_EQ(labels->name(-1), "class -1");
  EXPECT_EQ(labels->name(90), "class 90");
  // COCO category ids, as COCO results files use them: dog is 18, toothbrush 90.
  EXPECT_EQ(Labels::coco_category_id(17), 18);
  EXPECT_EQ(Labels::coco_category_id(89), 90);
}

TEST(Labels, FindIsExactAndCaseInsensitive) {
  if (!std::filesystem::exists(labels_path())) GTEST_SKIP() << labels_path() << " missing: run scripts/setup";
  const auto labels = Labels::from_file(labels_path());
  EXPECT_EQ(labels->find("person"), 0);
  EXPECT_EQ(labels->find("Person"), 0);
  EXPECT_EQ(labels->find("DOG"), 17);
  EXPECT_EQ(labels->find("Traffic Light"), 9);
  EXPECT_EQ(labels->find(" teddy bear "), labels->find("teddy bear"));
  EXPECT_EQ(labels->find("traffic"), -1);      // no prefix matching
  EXPECT_EQ(labels->find("trafficlight"), -1);
  EXPECT_EQ(labels->find("class 11"), -1);     // the placeholder of a gap is not a name
  EXPECT_EQ(labels->find(""), -1);
}

TEST(Labels, ParseSortsTrimsAndAcceptsCrlf) {
  const auto labels = Labels::parse("5\tfive\r\n\r\n  0   zero  \r\n2 two words\n", "mem.txt");
  ASSERT_EQ(labels->entries().size(), 3u);
  EXPECT_EQ(labels->entries()[0], std::make_pair(0, std::string("zero")));
  EXPECT_EQ(labels->entries()[1], std::make_pair(2, std::string("two words")));
  EXPECT_EQ(labels->entries()[2], std::make_pair(5, std::string("five")));
  EXPECT_EQ(labels->name(1), "class 1");
  EXPECT_EQ(labels->name(5), "five");
  EXPECT_EQ(labels->find("FIVE"), 5);
}

TEST(Labels, MalformedLinesAreRefusedWithFileAndLine) {
  struct Case {
    const char* text;
    const char* where;  // expected "origin:line" prefix
  };
  const Case cases[] = {
      {"0 person\nbicycle\n", "bad.txt:2: "},        // no id
      {"0 person\n\n1\n", "bad.txt:3: "},            // no name
      {"-1 nothing\n", "bad.txt:1: "},               // negative id
      {"0 person\n3x foo\n", "bad.txt:2: "},         // id not a number
      {"+3 foo\n", "bad.txt:1: "},                   // sign
      {"99999999999 big\n", "bad.txt:1: "},          // id out of int range
      {"0 person\n1 bicycle\n0 people\n", "bad.txt:3: "},  // duplicate id
  };
  for (const Case& c : cases) {
    const std::string msg = error_of<std::runtime_error>([&] { Labels::parse(c.text, "bad.txt"); });
    EXPECT_EQ(msg.rfind(c.where, 0), 0u) << "text: " << c.text << "\nmessage: " << msg;
  }
  EXPECT_NE(error_of<std::runtime_error>([] { Labels::parse("0 person\n0 people\n", "dup.txt"); })
                .find("already named at line 1"),
            std::string::npos);
  EXPECT_NE(error_of<std::runtime_error>([] { Labels::parse("x y\n", "bad.txt"); }).find("\"x y\""), std::string::npos)
      << "the message quotes the offending line";
  EXPECT_EQ(error_of<std::runtime_error>([] { Labels::parse("\n \n", "empty.txt"); }), "empty.txt: no labels");
}

TEST(Labels, MissingFileNamesThePath) {
  const std::string msg =
      error_of<std::runtime_error>([] { Labels::from_file("/nonexistent/dir/coco_labels.txt"); });
  EXPECT_NE(msg.find("/nonexistent/dir/coco_labels.txt"), std::string::npos) << msg;
}

TEST(ParseClassList, NamesToIndices) {
  const auto labels = Labels::parse("0 person\n2 car\n17 dog\n9 traffic light\n", "mem.txt");
  EXPECT_EQ(parse_class_list("person,car", *labels), (std::vector<int>{0, 2}));
  EXPECT_EQ(parse_class_list(" Dog , TRAFFIC LIGHT ", *labels), (std::vector<int>{17, 9}));
  EXPECT_EQ(parse_class_list("car,,person,", *labels), (std::vector<int>{2, 0}));  // empty items skipped
  EXPECT_TRUE(parse_class_list("", *labels).empty());
}

TEST(ParseClassList, UnknownClassIsNamed) {
  const auto labels = Labels::parse("0 person\n2 car\n", "mem.txt");
  const std::string msg = error_of<std::invalid_argument>([&] { parse_class_list("person,unicorn,car", *labels); });
  EXPECT_NE(msg.find("'unicorn'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("coco_labels.txt"), std::string::npos) << "says where valid names are: " << msg;
}

}  // namespace
}  // namespace lookout::detect
