// lookout detect: photos in, objects out. J detectors on J threads share a
// work queue; results are written in input order as soon as the next one in
// order is ready, so output streams. Results to stdout (or --output),
// progress and the closing summary to stderr.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/draw.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "detect/detector.h"
#include "detect/parallel.h"
#include "engine/engine.h"
#include "image/files.h"
#include "image/image.h"

namespace lookout::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kDrawQuality = 90;

// A bad command line or model: reported, exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Input {
  fs::path path;
  std::string file;       // as shown in results
  fs::path draw_name;     // relative to --draw DIR, ends in .jpg
};

// Arguments -> the images, in order: directories walked recursively, sorted;
// files named explicitly taken whatever their extension.
std::vector<Input> collect_inputs(const std::vector<std::string>& args) {
  std::vector<Input> inputs;
  for (const std::string& arg : args) {
    const fs::path root(arg);
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (!fs::exists(st)) throw UsageError("no such file or directory: " + arg);
    if (ec) throw UsageError("cannot access " + arg + ": " + ec.message());
    if (!fs::is_directory(st)) {
      inputs.push_back({root, arg, fs::path(root.filename()).replace_extension(".jpg")});
      continue;
    }
    std::vector<fs::path> found;
    try {
      found = image::find_images(root);
    } catch (const std::runtime_error& e) {
      throw UsageError(e.what());
    }
    for (const fs::path& p : found)
      inputs.push_back({p, p.string(), fs::path(p.lexically_relative(root)).replace_extension(".jpg")});
  }
  // Two inputs must not draw to the same file: x.jpg, x.png -> x.jpg, x-2.jpg.
  std::set<fs::path> taken;
  for (Input& in : inputs) {
    fs::path name = in.draw_name;
    for (int n = 2; !taken.insert(name).second; ++n)
      name = fs::path(in.draw_name).replace_filename(in.draw_name.stem().string() + "-" + std::to_string(n) + ".jpg");
    in.draw_name = name;
  }
  return inputs;
}


// True when writing `target` would overwrite the input `input`.
bool same_file(const fs::path& target, const fs::path& input) {
  std::error_code ec;
  return fs::exists(target, ec) && fs::equivalent(target, input, ec);
}

struct RunOptions {
  fs::path draw_dir;   // empty = no drawing
  uint64_t max_pixels = 0;
};

// Draws the detections on the upright full-size image and writes it.
void draw_to_file(const std::vector<uint8_t>& bytes, const detect::Result& result, const fs::path& out,
                  uint64_t max_pixels) {
  image::DecodeOptions options;  // full size by default
  options.max_pixels = max_pixels;
  image::Decoded decoded = image::decode(bytes, options);
  draw_detections(decoded.image, result.detections, result.width, result.height);
  const std::vector<uint8_t> jpeg = image::encode_jpeg(decoded.image, kDrawQuality);
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  f.close();
  if (!f) throw std::runtime_error("cannot write " + out.string() + ": " + std::strerror(errno));
}

wire::DetectedFile process(const Input& in, detect::Detector& detector, const RunOptions& options) {
  std::vector<uint8_t> bytes;
  detect::Result result;
  try {
    bytes = image::read_file_bytes(in.path);
    result = detector.detect(bytes);
  } catch (const std::exception& e) {  // image::DecodeError, I/O, engine
    return wire::detected_file_failed(in.file, e.what());
  }
  if (!options.draw_dir.empty()) {
    try {
      draw_to_file(bytes, result, options.draw_dir / in.draw_name, options.max_pixels);
    } catch (const std::exception& e) {
      return wire::detected_file_failed(in.file, std::string("drawing failed: ") + e.what());
    }
  }
  return wire::detected_file(in.file, result);
}

// The order the workers take the inputs in: as given, except the last ones
// (up to 16 per job), which go largest file first, so the run does not end
// with one worker decoding a big photo while the others wait (a photo's
// decode time grows with its size; inference is the same for all). Results
// are still written in input order; at most that window's records wait for
// an earlier one.
std::vector<size_t> hand_out_order(const std::vector<Input>& inputs, int jobs) {
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const size_t window = std::min(inputs.size(), size_t{16} * static_cast<size_t>(jobs));
  const auto tail = order.end() - static_cast<std::ptrdiff_t>(window);
  std::vector<uintmax_t> bytes(inputs.size(), 0);
  for (auto it = tail; it != order.end(); ++it) {
    std::error_code ec;  // an unreadable file fails in process(), reported there
    const uintmax_t size = fs::file_size(inputs[*it].path, ec);
    bytes[*it] = ec ? 0 : size;
  }
  std::stable_sort(tail, order.end(), [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  return order;
}

// The in-order hand-over of results from the workers to the writer.
struct Work {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<wire::DetectedFile>> done;  // by input index
  size_t finished = 0;                           // records in `done` so far
  bool stopped = false;                          // every worker has returned
  std::string worker_error;                      // a detector that could not be created, or a worker's failure

  explicit Work(size_t inputs) : done(inputs) {}

  void finish(size_t i, wire::DetectedFile r) {
    std::lock_guard lock(mu);
    done[i] = std::move(r);
    ++finished;
    cv.notify_one();
  }
  void note_error(const std::string& error) {
    std::lock_guard lock(mu);
    if (worker_error.empty()) worker_error = error;
  }
  void stop() {
    std::lock_guard lock(mu);
    stopped = true;
    cv.notify_one();
  }
};

constexpr const char* kFooter = R"(
Inputs: directories are walked recursively in sorted order for .jpg, .jpeg and
.png files (any case); files named explicitly are taken whatever their
extension. Each image is decoded (JPEG at the smallest DCT scale covering the
model input, PNG), turned upright by its EXIF orientation, resized to 300x300
and run through the model; boxes are in pixels of the upright image.

Formats (results go to stdout, or to --output FILE):
  table  per image a line "file  WxH  ms  N objects", then one row per
         detection: label, score, box [xmin, ymin, xmax, ymax] in pixels
  json   one document {"images":[...], "summary":{...}}; per image
         {"file","width","height","orientation","detections":[{"class_id",
         "label","score","box":{xmin,ymin,xmax,ymax} (0-1),"box_px":{...}}],
         "timing_ms":{decode,preprocess,inference,postprocess,total}}, or
         {"file","error"} for an image that failed
  jsonl  the same per-image objects, one per line, as they are ready
  csv    a header, then one row per detection: file,width,height,class_id,
         label,score,xmin,ymin,xmax,ymax (pixels),xmin_norm,ymin_norm,
         xmax_norm,ymax_norm,error; an image that failed is one row with only
         file and error; an image without detections has no row
  coco   a COCO results array [{"image_id","category_id","bbox":[x,y,w,h]
         (pixels),"score"}], scorable with pycocotools' loadRes. category_id
         is the COCO id (model class + 1, dog = 18). image_id is the number
         the file name is made of (000000397133.jpg or
         COCO_val2014_000000397133.jpg -> 397133) when every input's name is
         such a number and they are distinct; otherwise the 1-based position
         of each image in input order (the order shown by --format table).

Parallelism: --jobs J detectors each with --threads T engine threads take
images from one queue; results are written in input order as they are ready.

stderr: a progress bar when stderr is a terminal and the run is long, then a
summary: images, ok, failed (each with its reason), detections per class,
mean/median/p90 ms per stage, wall time and images/s.

Exit status: 0 every image processed; 1 some images failed (each listed);
2 usage error, no images found, or the model/labels cannot be loaded (run
scripts/setup or `make run` to fetch them).

Examples:
  lookout detect data/small
  lookout detect --classes person,dog --format jsonl photos/ > found.jsonl
  lookout detect --format coco --output results.json val2017/
  lookout detect --draw out/ --threshold 0.4 photo.jpg)";

}  // namespace

int detect_main(int argc, char** argv) {
  const int cores = detect::available_cores();
  CLI::App app{"Find the objects in photos with SSD MobileNet V2 (COCO, 90 classes).", "lookout detect"};
  app.footer(kFooter);
  std::vector<std::string> paths;
  float threshold = 0.5f;
  std::string classes;
  std::string format = "table";
  std::string output;
  std::string draw_dir;
  std::string backend = "xnnpack";
  std::string isa;
  int threads = 1;
  int jobs = 0;
  int max_detections = 100;
  uint64_t max_pixels = 50'000'000;
  std::string model_path = detect::kDefaultModel;
  std::string labels_path = detect::kDefaultLabels;
  app.add_option("IMG|DIR", paths, "images, or directories to walk for .jpg/.jpeg/.png")->required();
  app.add_option("--threshold", threshold, "keep detections scoring at least this")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--classes", classes, "keep only these classes, comma-separated names (e.g. person,car)")
      ->type_name("LIST");
  app.add_option("--format", format, "table, json, jsonl, csv or coco (see below)")
      ->capture_default_str()
      ->check(CLI::IsMember(format_names()));
  app.add_option("--output,-o", output, "write the results to FILE instead of stdout")->type_name("FILE");
  app.add_option("--draw", draw_dir, "write each image with its boxes and labels drawn to DIR/<name>.jpg")
      ->type_name("DIR");
  app.add_option("--backend", backend, "engine backend: xnnpack or reference")
      ->capture_default_str()
      ->check(CLI::IsMember({"xnnpack", "reference"}));
  app.add_option("--isa", isa,
                 "ISA level of our own kernels with the xnnpack backend: avx512vnni, avxvnni, avx2 or xnnpack (none of "
                 "ours) "
                 "[default: $LOOKOUT_ISA, else the best this CPU runs]")
      ->check(CLI::IsMember({"avx512vnni", "avxvnni", "avx2", "xnnpack"}));
  app.add_option("--threads", threads, "engine threads per job")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--jobs,-j", jobs, "detectors working in parallel [default: one per core, " + std::to_string(cores) + " here]")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-detections", max_detections, "keep at most N detections per image, best first")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-pixels", max_pixels, "refuse images declaring more pixels than this, before decoding")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_model_options(app, model_path, labels_path, "");
  if (const std::optional<int> done = parse_args(app, argc, argv)) return *done;

  const auto t_setup = Clock::now();
  std::vector<Input> inputs;
  std::shared_ptr<const engine::Model> model;
  std::shared_ptr<const detect::Labels> labels;
  detect::DetectorOptions detector_options;
  std::ofstream output_file;
  try {
    inputs = collect_inputs(paths);
    if (inputs.empty()) throw UsageError("no images found (directories are searched for .jpg, .jpeg and .png files)");

    ModelFiles files = load_model_files(model_path, labels_path);
    model = std::move(files.model);
    labels = std::move(files.labels);

    detector_options.engine = {engine::parse_backend(backend), threads};
    if (!isa.empty()) detector_options.engine.isa = engine::parse_isa(isa);
    detector_options.filter.threshold = threshold;
    detector_options.filter.max_detections = max_detections;
    detector_options.filter.classes = detect::parse_class_list(classes, *labels);
    detector_options.max_pixels = max_pixels;

    if (!draw_dir.empty()) {
      std::set<fs::path> dirs;
      for (const Input& in : inputs) {
        const fs::path target = fs::path(draw_dir) / in.draw_name;
        if (same_file(target, in.path))
          throw UsageError("--draw " + draw_dir + " would overwrite the input " + in.file + "; choose another directory");
        dirs.insert(target.parent_path());
      }
      for (const fs::path& d : dirs) {
        std::error_code ec;
        fs::create_directories(d, ec);
        if (ec) throw UsageError("cannot create --draw directory " + d.string() + ": " + ec.message());
      }
    }
    if (!output.empty() && output != "-") {
      for (const Input& in : inputs)
        if (same_file(output, in.path)) throw UsageError("--output " + output + " is one of the inputs");
      output_file.open(output, std::ios::binary | std::ios::trunc);
      if (!output_file) throw UsageError("cannot write --output " + output + ": " + std::strerror(errno));
    }
  } catch (const std::exception& e) {  // UsageError, engine::Error, labels, unknown class
    std::cerr << "lookout detect: " << e.what() << "\n";
    return 2;
  }

  if (jobs == 0) jobs = cores;
  jobs = static_cast<int>(std::min<size_t>(static_cast<size_t>(jobs), inputs.size()));

  // Every detector before the run, all built at once: a worker building its
  // own would start its share late while a core sat idle during the first
  // build. The first one's failure (a model the engine refuses) is a clean
  // exit 2; a later one that cannot be built leaves its share to the others.
  std::vector<std::unique_ptr<detect::Detector>> detectors(static_cast<size_t>(jobs));
  std::vector<std::string> detector_errors(static_cast<size_t>(jobs));
  detect::parallel_for(detectors.size(), jobs, [&](int, size_t w) {
    try {
      detectors[w] = std::make_unique<detect::Detector>(model, labels, detector_options);
    } catch (const std::exception& e) {
      detector_errors[w] = e.what();
    }
    return true;
  });
  if (!detectors[0]) {
    std::cerr << "lookout detect: cannot create the detector: " << detector_errors[0] << "\n";
    return 2;
  }
  const std::vector<size_t> order = hand_out_order(inputs, jobs);
  const double setup_s = std::chrono::duration<double>(Clock::now() - t_setup).count();

  std::ostream& out = output_file.is_open() ? static_cast<std::ostream&>(output_file) : std::cout;
  const bool out_is_terminal = !output_file.is_open() && isatty(STDOUT_FILENO);
  std::unique_ptr<Writer> writer = make_writer(format, out);
  std::vector<std::string> files;
  for (const Input& in : inputs) files.push_back(in.file);
  const std::vector<int64_t> image_ids = coco_image_ids(files);

  const RunOptions run_options{draw_dir, max_pixels};
  Work work(inputs.size());
  Progress progress(inputs.size(), isatty(STDERR_FILENO) != 0);
  Summary summary;

  const auto t_run = Clock::now();
  std::thread runner([&] {
    try {
      detect::parallel_for(
          inputs.size(), jobs,
          [&](int w, size_t k) {
            const size_t i = order[k];
            work.finish(i, process(inputs[i], *detectors[static_cast<size_t>(w)], run_options));
            return true;
          },
          [&](int w) {
            if (detectors[static_cast<size_t>(w)]) return true;
            work.note_error(detector_errors[static_cast<size_t>(w)]);
            return false;
          });
    } catch (const std::exception& e) {
      work.note_error(e.what());
    }
    work.stop();
  });

  writer->begin();
  size_t emitted = 0;
  std::string fatal;
  while (emitted < inputs.size()) {
    std::vector<std::pair<wire::DetectedFile, int64_t>> ready;  // with its COCO image id
    size_t finished = 0;
    {
      std::unique_lock lock(work.mu);
      work.cv.wait_for(lock, std::chrono::milliseconds(100),
                       [&] { return work.done[emitted].has_value() || work.stopped; });
      for (; emitted < inputs.size() && work.done[emitted].has_value(); ++emitted) {
        ready.emplace_back(std::move(*work.done[emitted]), image_ids[emitted]);
        work.done[emitted].reset();
      }
      finished = work.finished;
      if (ready.empty() && work.stopped && emitted < inputs.size()) {
        fatal = work.worker_error.empty() ? "the workers stopped early" : work.worker_error;
        break;
      }
    }
    if (!ready.empty() && out_is_terminal) progress.clear();
    for (const auto& [file, image_id] : ready) {
      writer->write(file, image_id);
      summary.add(file);
    }
    progress.update(finished);
  }
  runner.join();
  progress.clear();
  const double wall_s = std::chrono::duration<double>(Clock::now() - t_run).count();
  const bool own_kernels = detector_options.engine.backend == engine::Backend::xnnpack;
  summary.set_run(wall_s, setup_s, jobs, threads, backend, own_kernels ? engine::isa_name(detectors[0]->isa()) : "");

  if (!fatal.empty()) {
    std::cerr << "lookout detect: cannot create a detector: " << fatal << "\n";
    return 2;
  }
  if (!work.worker_error.empty())
    std::cerr << "lookout detect: warning: some of the " << jobs << " detectors could not be created ("
              << work.worker_error << "); the others did the work\n";
  writer->end(summary);
  out.flush();
  std::cerr << summary.text() << std::flush;
  if (!out) {
    std::cerr << "lookout detect: writing the results to " << (output.empty() ? "stdout" : output) << " failed\n";
    return 1;
  }
  return summary.failed() > 0 ? 1 : 0;
}

}  // namespace lookout::cli
