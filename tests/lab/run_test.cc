// `lookout run` end to end: the real binary against the real `lookout serve`
// on loopback and in-process detectors, on the real photos.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "lab_util.h"

namespace lookout::lab_test {
namespace {

std::string run_args(const std::string& target, const fs::path& out, const std::string& extra = "") {
  return "run data/small --target " + target + " --out " + shell_quote(out.string()) + " --quiet " + extra;
}

double iou(const wire::Detection& da, const wire::Detection& db) {
  const wire::Box& a = da.box;
  const wire::Box& b = db.box;
  const double ix = std::max(0.0f, std::min(a.xmax, b.xmax) - std::max(a.xmin, b.xmin));
  const double iy = std::max(0.0f, std::min(a.ymax, b.ymax) - std::max(a.ymin, b.ymin));
  const double inter = ix * iy;
  const double uni = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

// Every record succeeded; how many needed more than one attempt.
int retried_images(const std::vector<wire::Record>& rs) {
  int retried = 0;
  for (const wire::Record& r : rs) {
    EXPECT_TRUE(r.ok) << r.image << ": " << r.error;
    retried += r.attempts > 1 ? 1 : 0;
  }
  return retried;
}

std::map<std::string, wire::Record> by_image(const std::vector<wire::Record>& rs) {
  std::map<std::string, wire::Record> m;
  for (const wire::Record& r : rs) m[r.image] = r;
  return m;
}

TEST(RunLocal, EveryImageOnceWithDetections) {
  TempDir tmp;
  const fs::path out = tmp.path() / "local.jsonl";
  const CommandResult r = lookout(run_args("local", out, "--local-workers 2 --label 'two detectors'"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rs = records(out);
  ASSERT_EQ(rs.size(), small_collection_size());
  for (const auto& [image, n] : image_counts(rs)) EXPECT_EQ(n, 1) << image;
  const auto m = by_image(rs);
  const wire::Record& dog = m.at("darknet__dog.jpg");
  EXPECT_TRUE(dog.ok);
  EXPECT_EQ(dog.collection, "small");
  EXPECT_EQ(dog.schedule, "local");
  EXPECT_EQ(dog.label, "two detectors");
  EXPECT_EQ(dog.target, "local");
  EXPECT_EQ(dog.width, 768);
  EXPECT_GT(dog.timing.inference, 0);
  EXPECT_EQ(dog.timing.upload, 0);
  std::set<std::string> labels;
  for (const auto& d : dog.detections) labels.insert(d.label);
  EXPECT_TRUE(labels.count("dog") && labels.count("bicycle")) << "labels found: " << labels.size();
}

TEST(RunRemote, RecordsServerTimingsAndMatchesLocalDetections) {
  ServerProcess server(serve_args({"--workers", "1"}));
  TempDir tmp;
  const fs::path local = tmp.path() / "local.jsonl", remote = tmp.path() / "remote.jsonl";
  ASSERT_EQ(lookout(run_args("local", local)).status, 0);
  const CommandResult r = lookout("run data/small --target " + server.url() + " --out " + shell_quote(remote.string()));
  ASSERT_EQ(r.status, 0) << r.out << server.log();
  const auto l = by_image(records(local));
  const auto rs = records(remote);
  ASSERT_EQ(rs.size(), l.size());
  for (const wire::Record& rec : rs) {
    SCOPED_TRACE(rec.image);
    ASSERT_TRUE(rec.ok) << rec.error;
    EXPECT_EQ(rec.target, server.url());
    EXPECT_EQ(rec.schedule, "remote");
    EXPECT_EQ(rec.bytes_sent, rec.file_bytes);
    EXPECT_EQ(rec.file_bytes, fs::file_size(kPhotos / rec.image));
    EXPECT_GT(rec.response_bytes, 0u);
    EXPECT_GT(rec.timing.upload, 0);
    EXPECT_GT(rec.timing.inference, 0);
    // The round trip holds the server's stages and the upload.
    EXPECT_GE(rec.timing.round_trip, rec.timing.queue + rec.timing.decode + rec.timing.inference);
    EXPECT_GE(rec.timing.round_trip, rec.timing.upload);
    EXPECT_EQ(rec.timing.total, rec.timing.round_trip);
    // Same model, same bytes, same backend: the same detections.
    const wire::Record& mine = l.at(rec.image);
    EXPECT_EQ(rec.width, mine.width);
    ASSERT_EQ(rec.detections.size(), mine.detections.size());
    for (size_t i = 0; i < rec.detections.size(); ++i) {
      EXPECT_EQ(rec.detections[i].class_id, mine.detections[i].class_id);
      EXPECT_NEAR(rec.detections[i].score, mine.detections[i].score, 1e-3);
      EXPECT_GT(iou(rec.detections[i], mine.detections[i]), 0.999);
    }
  }
  EXPECT_NE(r.out.find("inference ms"), std::string::npos) << "no Table 3 in:\n" << r.out;
}

TEST(RunResume, KillNineMidRunLosesAndDuplicatesNothing) {
  ServerProcess server(serve_args({"--workers", "1"}));
  TempDir tmp;
  const fs::path out = tmp.path() / "r.jsonl";
  const std::vector<std::string> args = {"run", "data/small", "--target", server.url(), "--out", out.string(), "--quiet"};
  size_t before = 0;
  {
    Background run(args, tmp.path() / "first.log");
    ASSERT_TRUE(wait_for_lines(out, 5, std::chrono::seconds(60))) << read_file(tmp.path() / "first.log");
    run.kill9();
    before = records(out).size();
  }
  ASSERT_LT(before, small_collection_size()) << "the run finished before it could be killed";
  const CommandResult second = lookout(run_args(server.url(), out));
  ASSERT_EQ(second.status, 0) << second.out;
  expect_every_image_once_and_ok(records(out), small_collection_size());
  // The second run sent only what the first had not finished.
  const CommandResult third = lookout("run data/small --target " + server.url() + " --out " + shell_quote(out.string()));
  EXPECT_EQ(third.status, 0);
  EXPECT_NE(third.out.find(std::to_string(small_collection_size()) + " already done"), std::string::npos) << third.out;
  EXPECT_EQ(records(out).size(), small_collection_size());
}

TEST(RunResume, ServerKilledMidRunThenRestartedLosesNothing) {
  TempDir tmp;
  const fs::path out = tmp.path() / "r.jsonl";
  int port = 0;
  {
    ServerProcess server(serve_args({"--workers", "1"}));
    port = server.port();
    // Few quick retries: the images in flight when the server dies fail for now.
    Background run({"run", "data/small", "--target", server.url(), "--out", out.string(), "--quiet", "--retries", "2"},
                   tmp.path() / "first.log");
    ASSERT_TRUE(wait_for_lines(out, 5, std::chrono::seconds(60))) << read_file(tmp.path() / "first.log");
    server.signal(SIGKILL);
    server.wait_exit(std::chrono::seconds(10));
    EXPECT_EQ(run.wait(), 1) << read_file(tmp.path() / "first.log");
  }
  const auto first = records(out);
  size_t failed = 0;
  for (const wire::Record& r : first) {
    if (r.ok) continue;
    ++failed;
    EXPECT_FALSE(r.permanent) << r.image << ": a connection failure is not permanent (" << r.error << ")";
    EXPECT_EQ(r.attempts, 2);
  }
  EXPECT_GT(failed, 0u) << "no request failed while the server was down";

  ServerProcess restarted(serve_args({"--workers", "1"}, port));
  const CommandResult second = lookout(run_args(restarted.url(), out));
  ASSERT_EQ(second.status, 0) << second.out;
  expect_every_image_once_and_ok(records(out), small_collection_size());
}

TEST(RunRetries, RetriesCarryARunOverAServerRestart) {
  TempDir tmp;
  const fs::path out = tmp.path() / "r.jsonl";
  auto server = std::make_unique<ServerProcess>(serve_args({"--workers", "1"}));
  const int port = server->port();
  Background run({"run", "data/small", "--target", server->url(), "--out", out.string(), "--quiet"},
                 tmp.path() / "run.log");
  ASSERT_TRUE(wait_for_lines(out, 3, std::chrono::seconds(60)));
  server->signal(SIGKILL);
  server->wait_exit(std::chrono::seconds(10));
  server.reset();
  server = std::make_unique<ServerProcess>(serve_args({"--workers", "1"}, port));
  EXPECT_EQ(run.wait(), 0) << read_file(tmp.path() / "run.log");
  const auto rs = records(out);
  EXPECT_EQ(rs.size(), small_collection_size());
  EXPECT_GT(retried_images(rs), 0) << "no image needed a second attempt across the restart";
}

TEST(RunRetries, BusyServer503sAreRetriedUntilDone) {
  // One detector, one queue slot, eight requests in flight: most get 503 + Retry-After.
  ServerProcess server(serve_args({"--workers", "1", "--max-queue", "1"}));
  TempDir tmp;
  const fs::path out = tmp.path() / "r.jsonl";
  const CommandResult r = lookout(run_args(server.url(), out, "--concurrency 8 --retries 30"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rs = records(out);
  ASSERT_EQ(rs.size(), small_collection_size());
  EXPECT_GT(retried_images(rs), 0) << "the server never answered 503";
}

TEST(RunErrors, CorruptImageIsRecordedOnceAndNotRetried) {
  ServerProcess server;
  TempDir tmp;
  const fs::path dir = tmp.path() / "mixed";
  fs::create_directories(dir);
  fs::copy_file(kDog, dir / "dog.jpg");
  fs::copy_file(kGiraffe, dir / "giraffe.jpg");
  const std::string dog = read_file(kDog);
  write_file(dir / "truncated.jpg", dog.substr(0, dog.size() / 3));
  write_file(dir / "noise.jpg", std::string(5000, '\x5a'));
  const fs::path out = tmp.path() / "r.jsonl";
  const std::string args =
      "run " + shell_quote(dir.string()) + " --target " + server.url() + " --out " + shell_quote(out.string());
  const CommandResult r = lookout(args);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("noise.jpg"), std::string::npos) << "the failure is not listed:\n" << r.out;
  const auto m = by_image(records(out));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_TRUE(m.at("dog.jpg").ok);
  EXPECT_TRUE(m.at("giraffe.jpg").ok);
  for (const char* bad : {"truncated.jpg", "noise.jpg"}) {
    const wire::Record& rec = m.at(bad);
    EXPECT_FALSE(rec.ok) << bad;
    EXPECT_EQ(rec.status, 400) << bad;
    EXPECT_TRUE(rec.permanent) << bad;
    EXPECT_EQ(rec.attempts, 1) << bad << " was retried";
    EXPECT_FALSE(rec.error.empty());
  }
  // Done is done, failed for good included: a rerun sends nothing.
  const CommandResult again = lookout(args);
  EXPECT_NE(again.out.find("4 already done"), std::string::npos) << again.out;
  EXPECT_EQ(count_lines(out), 4u);
}

TEST(RunResize, DownscaledUploadsKeepTheDetections) {
  ServerProcess server;
  TempDir tmp;
  const fs::path full = tmp.path() / "full.jsonl", small = tmp.path() / "small.jsonl";
  ASSERT_EQ(lookout(run_args(server.url(), full)).status, 0);
  const CommandResult r = lookout("run data/small --target " + server.url() + " --resize-before-upload --out " +
                                  shell_quote(small.string()));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("% saved"), std::string::npos) << r.out;
  const auto a = by_image(records(full)), b = by_image(records(small));
  ASSERT_EQ(a.size(), b.size());
  uint64_t file_bytes = 0, sent = 0;
  size_t confident = 0, kept = 0;
  for (const auto& [image, ra] : a) {
    const wire::Record& rb = b.at(image);
    SCOPED_TRACE(image);
    ASSERT_TRUE(rb.ok) << rb.error;
    file_bytes += rb.file_bytes;
    sent += rb.bytes_sent;
    EXPECT_LE(rb.bytes_sent, rb.file_bytes);
    EXPECT_EQ(rb.width, ra.width);  // the original size, not the upload's
    EXPECT_EQ(rb.height, ra.height);
    // The downscaled, re-encoded upload moves this uint8 model's scores by a
    // step or two (0.04-0.07 each): every clear detection (>= 0.75) is still
    // there, same class, same place; nearly all the confident ones (>= 0.6)
    // are there with nearly the same box (crowded scenes swap a few).
    for (const auto& d : ra.detections) {
      if (d.score < 0.6) continue;
      ++confident;
      double best = 0;
      for (const auto& e : rb.detections)
        if (e.class_id == d.class_id) best = std::max(best, iou(d, e));
      if (d.score >= 0.75) {
        EXPECT_GE(best, 0.5) << d.label << " " << d.score << " lost";
      }
      kept += best >= 0.8 ? 1 : 0;
    }
  }
  EXPECT_LT(sent, file_bytes / 2) << "downscaling saved too little";
  ASSERT_GT(confident, 20u);
  EXPECT_GE(static_cast<double>(kept), 0.9 * static_cast<double>(confident)) << kept << " of " << confident;
}

TEST(RunSchedules, HybridAndScaleOutShareOneQueue) {
  ServerProcess a(serve_args({"--workers", "1"})), b(serve_args({"--workers", "1"}));
  TempDir tmp;
  const fs::path hybrid = tmp.path() / "hybrid.jsonl", scale = tmp.path() / "scale.jsonl";
  ASSERT_EQ(lookout(run_args("local --target " + a.url(), hybrid, "--local-workers 1")).status, 0);
  ASSERT_EQ(lookout(run_args(a.url() + " --target " + b.url(), scale)).status, 0);
  for (const auto& [file, schedule, targets] :
       {std::tuple{hybrid, "hybrid", std::set<std::string>{"local", a.url()}},
        std::tuple{scale, "scale-out", std::set<std::string>{a.url(), b.url()}}}) {
    const auto rs = records(file);
    EXPECT_EQ(rs.size(), small_collection_size()) << schedule;
    std::map<std::string, int> per_target;
    for (const wire::Record& r : rs) {
      EXPECT_TRUE(r.ok);
      EXPECT_EQ(r.schedule, schedule);
      ++per_target[r.target];
    }
    for (const std::string& t : targets) EXPECT_GT(per_target[t], 0) << schedule << ": " << t << " took no image";
    for (const auto& [image, n] : image_counts(rs)) EXPECT_EQ(n, 1) << image;
  }
}

TEST(RunUsage, BadTargetsAndMissingDirectoriesSayWhatToDo) {
  TempDir tmp;
  CommandResult r = lookout("run data/small --target ftp://x --out " + shell_quote((tmp.path() / "o").string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("http://HOST:PORT"), std::string::npos) << r.out;
  r = lookout("run /no/such/dir --target local");
  EXPECT_EQ(r.status, 2);
  r = lookout("run --help");
  EXPECT_EQ(r.status, 0);
  for (const char* what : {"--resize-before-upload", "--concurrency", "Resuming", "Retry-After", "hybrid"})
    EXPECT_NE(r.out.find(what), std::string::npos) << what;
}

}  // namespace
}  // namespace lookout::lab_test
