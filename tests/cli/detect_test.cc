// `lookout detect` run as a user runs it: the real binary (LOOKOUT_BINARY)
// on the real photos of data/small, from the repository root, with its
// stdout, stderr and exit code captured. Bad files are made in a temp dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/png_fixture.h"
#include "wire/detection.h"
#include "temp_dir.h"

#include "build_paths.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kRoot = LOOKOUT_SOURCE_DIR;
const fs::path kPhotos = kRoot / "data" / "small";
const fs::path kModel = kRoot / "models" / "mobilenet_ssd_v2_coco_quant_postprocess.tflite";
constexpr const char* kDog = "data/small/darknet__dog.jpg";
constexpr const char* kGiraffe = "data/small/darknet__giraffe.jpg";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << p;
}

using lookout::testing::TempDir;
std::string quote(const std::string& s) { return lookout::testing::shell_quote(s); }

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `lookout <args>` from the repository root (the default model paths
// are relative to it).
RunResult lookout(const std::vector<std::string>& args, const TempDir& tmp) {
  const fs::path out = tmp.path() / ".stdout", err = tmp.path() / ".stderr";
  std::string cmd = "cd " + quote(kRoot.string()) + " && " + quote(LOOKOUT_BINARY);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " > " + quote(out.string()) + " 2> " + quote(err.string()) + " < /dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

std::vector<json> parse_jsonl(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

std::vector<std::string> labels_of(const json& record) {
  std::vector<std::string> labels;
  for (const auto& d : record.at("detections")) labels.push_back(d.at("label").get<std::string>());
  return labels;
}

std::vector<std::string> split_csv_simple(const std::string& line) {
  std::vector<std::string> fields;
  std::string f;
  std::istringstream in(line);
  while (std::getline(in, f, ',')) fields.push_back(f);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

class DetectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kModel) || !fs::exists(kRoot / kDog))
      GTEST_SKIP() << "model or photos missing: run scripts/setup";
  }
  TempDir tmp_;
};

TEST(DetectCliUsage, TopLevelHelpListsDetect) {
  TempDir tmp;
  const RunResult r = lookout({"--help"}, tmp);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("detect"));
}

TEST(DetectCliUsage, DetectHelpIsComplete) {
  TempDir tmp;
  const RunResult r = lookout({"detect", "--help"}, tmp);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--threshold", "--classes", "--format", "--output", "--draw", "--backend", "--threads",
                          "--jobs", "--max-detections", "--max-pixels", "--model", "--labels", "image_id",
                          "Exit status", "jsonl", "coco", "csv"})
    EXPECT_THAT(r.out, HasSubstr(opt));
}

TEST(DetectCliUsage, MissingModelIsExit2MentioningSetup) {
  TempDir tmp;
  const RunResult r = lookout({"detect", "--model", (tmp.path() / "absent.tflite").string(), kDog}, tmp);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("scripts/setup"));
  EXPECT_EQ(r.out, "");
}

TEST(DetectCliUsage, BadOptionIsExit2) {
  TempDir tmp;
  EXPECT_EQ(lookout({"detect", "--format", "xml", kDog}, tmp).exit_code, 2);
  EXPECT_EQ(lookout({"detect", "--threshold", "1.5", kDog}, tmp).exit_code, 2);
  EXPECT_EQ(lookout({"detect"}, tmp).exit_code, 2);
}

TEST_F(DetectCli, NothingFoundIsExit2) {
  fs::create_directories(tmp_.path() / "empty");
  write_bytes(tmp_.path() / "empty" / "notes.txt", {'h', 'i'});
  const RunResult r = lookout({"detect", (tmp_.path() / "empty").string()}, tmp_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no images found"));
  const RunResult missing = lookout({"detect", (tmp_.path() / "no-such-dir").string()}, tmp_);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no-such-dir"));
}

TEST_F(DetectCli, JsonlOnDogHasDogAndBicycle) {
  const RunResult r = lookout({"detect", "--format", "jsonl", kDog}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = parse_jsonl(r.out);
  ASSERT_EQ(lines.size(), 1u);
  const json& rec = lines[0];
  EXPECT_EQ(rec.at("file"), kDog);
  EXPECT_EQ(rec.at("width"), 768);
  EXPECT_EQ(rec.at("height"), 576);
  EXPECT_EQ(rec.at("orientation"), 1);
  EXPECT_THAT(labels_of(rec), ::testing::IsSupersetOf({"dog", "bicycle"}));
  for (const auto& d : rec.at("detections")) {
    EXPECT_GE(d.at("score").get<double>(), 0.5);
    const auto& px = d.at("box_px");
    const auto& n = d.at("box");
    EXPECT_GE(px.at("xmin").get<double>(), 0.0);
    EXPECT_LE(px.at("xmax").get<double>(), 768.0);
    EXPECT_LT(px.at("xmin").get<double>(), px.at("xmax").get<double>());
    EXPECT_LT(px.at("ymin").get<double>(), px.at("ymax").get<double>());
    EXPECT_NEAR(n.at("xmax").get<double>() * 768.0, px.at("xmax").get<double>(), 1.0);
    EXPECT_NEAR(n.at("ymin").get<double>() * 576.0, px.at("ymin").get<double>(), 1.0);
  }
  for (const char* stage : {"decode", "preprocess", "inference", "postprocess", "total"})
    EXPECT_TRUE(rec.at("timing_ms").contains(stage)) << stage;
  // The closing summary goes to stderr.
  EXPECT_THAT(r.err, HasSubstr("1 image, 1 ok, 0 failed"));
  EXPECT_THAT(r.err, HasSubstr("inference"));
}

TEST_F(DetectCli, JsonIsOneDocumentWithSummary) {
  const RunResult r = lookout({"detect", "--format", "json", kDog, kGiraffe}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.at("images").size(), 2u);
  EXPECT_EQ(doc["images"][0].at("file"), kDog);
  EXPECT_EQ(doc["images"][1].at("file"), kGiraffe);
  EXPECT_THAT(labels_of(doc["images"][1]), ::testing::Contains("giraffe"));
  const json& s = doc.at("summary");
  EXPECT_EQ(s.at("images"), 2);
  EXPECT_EQ(s.at("ok"), 2);
  EXPECT_EQ(s.at("failed"), 0);
  EXPECT_GE(s.at("detections_per_class").at("dog").get<int>(), 1);
  EXPECT_TRUE(s.at("ms").at("inference").contains("p90"));
}

// The summary names the engine: the backend and, with xnnpack, the level of
// our own kernels the run used (the best this CPU runs unless --isa says).
TEST_F(DetectCli, SummaryNamesBackendAndIsaLevel) {
  const RunResult best = lookout({"detect", "--format", "json", kDog}, tmp_);
  ASSERT_EQ(best.exit_code, 0) << best.err;
  const json best_doc = json::parse(best.out);
  const json& isa = best_doc.at("summary").at("isa");
  ASSERT_TRUE(isa.is_string()) << isa;
  EXPECT_THAT((std::vector<std::string>{"avx512vnni", "avxvnni", "avx2", "xnnpack"}),
              ::testing::Contains(isa.get<std::string>()));
  EXPECT_THAT(best.err, HasSubstr("1 job x 1 thread, xnnpack backend, ISA " + isa.get<std::string>() + "; "));

  const RunResult chosen = lookout({"detect", "--isa", "xnnpack", "--format", "json", kDog}, tmp_);
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  EXPECT_EQ(json::parse(chosen.out).at("summary").at("isa"), "xnnpack");
  EXPECT_THAT(chosen.err, HasSubstr("xnnpack backend, ISA xnnpack; "));

  const RunResult reference = lookout({"detect", "--backend", "reference", "--format", "json", kDog}, tmp_);
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const json reference_doc = json::parse(reference.out);
  const json& summary = reference_doc.at("summary");
  EXPECT_EQ(summary.at("backend"), "reference");
  EXPECT_TRUE(summary.at("isa").is_null()) << summary;
  EXPECT_THAT(reference.err, HasSubstr("1 job x 1 thread, reference backend; "));
  EXPECT_THAT(reference.err, ::testing::Not(HasSubstr("ISA")));
}

TEST_F(DetectCli, CocoIsAResultsArray) {
  const RunResult r = lookout({"detect", "--format", "coco", kDog, kGiraffe}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json results = json::parse(r.out);
  ASSERT_TRUE(results.is_array());
  ASSERT_FALSE(results.empty());
  bool dog = false;
  for (const auto& e : results) {
    ASSERT_TRUE(e.at("image_id").is_number_integer()) << e;
    ASSERT_TRUE(e.at("category_id").is_number_integer()) << e;
    const int64_t id = e["image_id"];
    EXPECT_TRUE(id == 1 || id == 2) << "1-based input position: " << e;
    if (id == 1 && e["category_id"] == 18) dog = true;  // COCO's dog
    const auto& b = e.at("bbox");
    ASSERT_EQ(b.size(), 4u);
    const double x = b[0], y = b[1], w = b[2], h = b[3];
    const double W = id == 1 ? 768 : 500, H = id == 1 ? 576 : 500;
    EXPECT_GT(w, 0);
    EXPECT_GT(h, 0);
    EXPECT_GE(x, 0);
    EXPECT_GE(y, 0);
    EXPECT_LE(x + w, W + 0.01);
    EXPECT_LE(y + h, H + 0.01);
    EXPECT_GT(e.at("score").get<double>(), 0.0);
  }
  EXPECT_TRUE(dog) << "no dog (category 18) in image 1";
}

TEST_F(DetectCli, CocoImageIdComesFromANumericFileName) {
  fs::copy_file(kRoot / kDog, tmp_.path() / "000000397133.jpg");
  const RunResult r = lookout({"detect", "--format", "coco", (tmp_.path() / "000000397133.jpg").string()}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json results = json::parse(r.out);
  ASSERT_FALSE(results.empty());
  for (const auto& e : results) EXPECT_EQ(e.at("image_id"), 397133);
}

TEST_F(DetectCli, CsvHasHeaderAndOneRowPerDetection) {
  const RunResult jl = lookout({"detect", "--format", "jsonl", kDog}, tmp_);
  const RunResult r = lookout({"detect", "--format", "csv", kDog}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header,
            "file,width,height,class_id,label,score,xmin,ymin,xmax,ymax,xmin_norm,ymin_norm,xmax_norm,ymax_norm,error");
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(split_csv_simple(line));
  const json rec = parse_jsonl(jl.out).at(0);
  ASSERT_EQ(rows.size(), rec.at("detections").size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 15u);
    EXPECT_EQ(rows[i][0], kDog);
    EXPECT_EQ(rows[i][1], "768");
    EXPECT_EQ(rows[i][2], "576");
    EXPECT_EQ(rows[i][4], rec["detections"][i]["label"]);
    EXPECT_NEAR(std::stod(rows[i][8]), rec["detections"][i]["box_px"]["xmax"].get<double>(), 1e-3);
    EXPECT_NEAR(std::stod(rows[i][10]), rec["detections"][i]["box"]["xmin"].get<double>(), 1e-6);
    EXPECT_EQ(rows[i][14], "");
  }
}

TEST_F(DetectCli, ClassesKeepsOnlyThoseClasses) {
  const RunResult r = lookout({"detect", "--format", "jsonl", "--classes", "dog", kDog, kGiraffe}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = parse_jsonl(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(labels_of(lines[0]), ::testing::ElementsAre("dog"));
  EXPECT_THAT(labels_of(lines[1]), ::testing::IsEmpty());
}

TEST_F(DetectCli, UnknownClassIsExit2NamingIt) {
  const RunResult r = lookout({"detect", "--classes", "dog,unicorn", kDog}, tmp_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unicorn"));
  EXPECT_EQ(r.out, "");
}

TEST_F(DetectCli, BadFilesAreReportedAndTheRestProcessed) {
  const fs::path dir = tmp_.path() / "mixed";
  fs::create_directories(dir / "sub");
  fs::copy_file(kRoot / kDog, dir / "a_dog.jpg");
  fs::copy_file(kRoot / kGiraffe, dir / "sub" / "b_giraffe.JPG");  // walked recursively, any case
  const std::vector<uint8_t> dog = read_bytes(kRoot / kDog);
  write_bytes(dir / "c_truncated.jpg", std::vector<uint8_t>(dog.begin(), dog.begin() + static_cast<long>(dog.size() * 2 / 5)));
  std::mt19937 rng(42);
  std::vector<uint8_t> noise(5000);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  noise[0] = 'R';  // not a JPEG or PNG signature by chance
  write_bytes(dir / "d_random.jpg", noise);
  write_bytes(dir / "e_empty.jpg", {});
  write_bytes(dir / "f_huge.png", lookout::image::testing::png_header_only(100000, 100000));
  write_bytes(dir / "g_notes.txt", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});  // not walked

  const RunResult r = lookout({"detect", "--format", "jsonl", "--jobs", "2", dir.string()}, tmp_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = parse_jsonl(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  const std::vector<std::string> names = {"a_dog.jpg", "c_truncated.jpg", "d_random.jpg",
                                          "e_empty.jpg", "f_huge.png", "sub/b_giraffe.JPG"};
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(lines[i].at("file"), (dir / names[i]).string()) << "sorted walk order";
  EXPECT_THAT(labels_of(lines[0]), ::testing::Contains("dog"));
  EXPECT_THAT(labels_of(lines[5]), ::testing::Contains("giraffe"));
  for (size_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(lines[i].contains("error")) << lines[i];
    EXPECT_FALSE(lines[i]["error"].get<std::string>().empty());
    EXPECT_FALSE(lines[i].contains("detections"));
    // Each one is listed with its reason in the summary.
    EXPECT_THAT(r.err, HasSubstr(lines[i]["file"].get<std::string>() + ": " + lines[i]["error"].get<std::string>()));
  }
  EXPECT_THAT(r.err, HasSubstr("6 images, 2 ok, 4 failed"));
  EXPECT_THAT(lines[4]["error"].get<std::string>(), HasSubstr("100000"));
}

TEST_F(DetectCli, JobsKeepInputOrderAndContent) {
  const RunResult one = lookout({"detect", "--format", "jsonl", "--jobs", "1", "data/small"}, tmp_);
  const RunResult two = lookout({"detect", "--format", "jsonl", "--jobs", "2", "data/small"}, tmp_);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto a = parse_jsonl(one.out), b = parse_jsonl(two.out);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 30u);
  std::vector<std::string> files;
  for (size_t i = 0; i < a.size(); ++i) {
    files.push_back(a[i].at("file"));
    a[i].erase("timing_ms");
    b[i].erase("timing_ms");
    EXPECT_EQ(a[i], b[i]) << "image " << i;
  }
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_THAT(one.err, HasSubstr("1 job x 1 thread"));
  EXPECT_THAT(two.err, HasSubstr("2 jobs x 1 thread"));
}

// Every format is written from the same wire::DetectedFile: the jsonl lines
// read back into it byte for byte, and the json, csv and coco outputs hold
// exactly what those records give.
TEST_F(DetectCli, EveryFormatCarriesTheSameDetections) {
  std::map<std::string, std::string> out;
  for (const char* format : {"jsonl", "json", "csv", "coco"}) {
    const RunResult r = lookout({"detect", "--format", format, "--jobs", "2", "data/small"}, tmp_);
    ASSERT_EQ(r.exit_code, 0) << format << ": " << r.err;
    out[format] = r.out;
  }
  std::vector<lookout::wire::DetectedFile> files;
  std::istringstream lines(out["jsonl"]);
  for (std::string line; std::getline(lines, line);) {
    files.push_back(lookout::wire::Json::parse(line).get<lookout::wire::DetectedFile>());
    EXPECT_EQ(lookout::wire::dump(files.back()), line);
  }
  ASSERT_GE(files.size(), 30u);

  const json doc = json::parse(out["json"]);
  ASSERT_EQ(doc.at("images").size(), files.size());
  std::string csv = lookout::wire::csv_header();
  json coco = json::array();
  for (size_t i = 0; i < files.size(); ++i) {
    json from_json_format = doc["images"][i], from_jsonl = json::parse(lookout::wire::dump(files[i]));
    from_json_format.erase("timing_ms");
    from_jsonl.erase("timing_ms");
    EXPECT_EQ(from_json_format, from_jsonl) << files[i].file;
    csv += lookout::wire::csv_rows(files[i]);
    // data/small's names are not COCO numbers: image ids are input positions.
    for (const auto& c : lookout::wire::coco_results(static_cast<int64_t>(i) + 1, files[i]))
      coco.push_back(json::parse(lookout::wire::dump(c)));
  }
  EXPECT_EQ(out["csv"], csv);
  EXPECT_EQ(json::parse(out["coco"]), coco);
}

TEST_F(DetectCli, OutputWritesTheFileNotStdout) {
  const fs::path out = tmp_.path() / "results.jsonl";
  const RunResult r = lookout({"detect", "--format", "jsonl", "--output", out.string(), kDog}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  const auto lines = parse_jsonl(read_text(out));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("file"), kDog);
}

TEST_F(DetectCli, TableHasAHeaderLinePerImageAndARowPerDetection) {
  const RunResult r = lookout({"detect", kDog}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith(std::string(kDog) + "  768x576  "));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\n  dog +0\\.[0-9][0-9]  \\[[0-9]+, [0-9]+, [0-9]+, [0-9]+\\]\n"));
}

TEST_F(DetectCli, DrawRefusesToOverwriteAnInput) {
  const fs::path dir = tmp_.path() / "photos";
  fs::create_directories(dir);
  fs::copy_file(kRoot / kDog, dir / "dog.jpg");
  const auto before = fs::file_size(dir / "dog.jpg");
  const RunResult r = lookout({"detect", "--draw", dir.string(), dir.string()}, tmp_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("overwrite"));
  EXPECT_EQ(fs::file_size(dir / "dog.jpg"), before);
}

TEST_F(DetectCli, NonUtf8FileNamesStillGiveValidJson) {
  const fs::path odd = tmp_.path() / std::string("caf\xe9 \"dog\", 1.jpg");  // Latin-1 byte, quote, comma
  fs::copy_file(kRoot / kDog, odd);
  const RunResult jl = lookout({"detect", "--format", "jsonl", odd.string()}, tmp_);
  ASSERT_EQ(jl.exit_code, 0) << jl.err;
  const auto lines = parse_jsonl(jl.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0].at("file").get<std::string>(), HasSubstr("\xEF\xBF\xBD"));  // U+FFFD
  const RunResult js = lookout({"detect", "--format", "json", odd.string()}, tmp_);
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_TRUE(json::accept(js.out)) << js.out;
  const RunResult csv = lookout({"detect", "--format", "csv", odd.string()}, tmp_);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("\"dog\"\", 1.jpg\","));  // RFC 4180 quoting
}

TEST_F(DetectCli, DrawWritesDecodableJpegsOfTheOriginalSize) {
  const fs::path draw = tmp_.path() / "drawn";
  const RunResult r = lookout({"detect", "--format", "jsonl", "--draw", draw.string(), kDog, kGiraffe}, tmp_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = parse_jsonl(r.out);
  ASSERT_EQ(lines.size(), 2u);
  for (const json& rec : lines) {
    const fs::path file = fs::path(rec.at("file").get<std::string>());
    const fs::path drawn = draw / file.filename();
    ASSERT_TRUE(fs::exists(drawn)) << drawn;
    const lookout::image::DecodeOptions full;  // full size by default
    const lookout::image::Decoded d = lookout::image::decode(read_bytes(drawn), full);
    EXPECT_STREQ(d.format, "jpeg");
    EXPECT_EQ(d.image.width, rec.at("width").get<int>());
    EXPECT_EQ(d.image.height, rec.at("height").get<int>());

    // The best box's top edge is drawn: that row differs from the photo.
    const lookout::image::Decoded original = lookout::image::decode(read_bytes(kRoot / file), full);
    const auto& px = rec.at("detections").at(0).at("box_px");
    const int y = std::clamp(static_cast<int>(px.at("ymin").get<double>() + 1), 0, d.image.height - 1);
    const int x0 = static_cast<int>(px.at("xmin").get<double>()), x1 = static_cast<int>(px.at("xmax").get<double>());
    double diff = 0;
    for (int x = x0; x < x1; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(d.image.width) + static_cast<size_t>(x)) * 3 + c;
        diff += std::abs(static_cast<int>(d.image.rgb[i]) - static_cast<int>(original.image.rgb[i]));
      }
    EXPECT_GT(diff / (3.0 * (x1 - x0)), 20.0) << "box edge not drawn in " << drawn;
  }
}

}  // namespace
