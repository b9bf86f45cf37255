#include "client/run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "detect/parallel.h"
#include "image/files.h"

namespace lookout::client {

namespace fs = std::filesystem;

std::vector<ImageFile> collection_jobs(const fs::path& dir) {
  std::vector<ImageFile> jobs;
  for (const fs::path& p : image::find_images(dir)) jobs.push_back({p, p.lexically_relative(dir).generic_string()});
  return jobs;
}

std::string collection_name(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

std::string schedule_name(const std::vector<TargetSpec>& targets) {
  size_t local = 0;
  for (const TargetSpec& t : targets) local += t.local ? 1 : 0;
  const size_t remote = targets.size() - local;
  if (remote == 0) return "local";
  if (local > 0) return "hybrid";
  return remote > 1 ? "scale-out" : "remote";
}

std::vector<WorkerSlot> make_workers(const std::vector<TargetSpec>& targets, const WorkerPlan& plan) {
  std::vector<WorkerSlot> workers;
  for (const TargetSpec& t : targets) {
    const int n = t.local ? plan.local_workers : plan.remote_concurrency;
    for (int i = 0; i < n; ++i) {
      if (t.local && !plan.model) throw std::runtime_error("a local target needs the model");
      workers.push_back({t.name, t.local ? make_local_worker(plan.model, plan.labels, plan.detector)
                                         : make_http_worker(t, plan.http)});
    }
  }
  return workers;
}

RunStats process_images(const std::vector<ImageFile>& jobs, std::vector<WorkerSlot>& workers, const RunStamp& stamp,
                  ResultsFile* out, const std::function<bool(const std::string&, const std::string&)>& skip,
                  const std::function<void(const wire::Record&)>& on_record, const std::atomic<bool>* stop) {
  std::vector<const ImageFile*> todo;
  for (const ImageFile& j : jobs)
    if (!skip || !skip(stamp.collection, j.image)) todo.push_back(&j);
  RunStats stats;
  stats.skipped = jobs.size() - todo.size();

  std::mutex mu;
  std::string write_error;
  const auto t0 = std::chrono::steady_clock::now();
  if (!workers.empty())
    detect::parallel_for(todo.size(), static_cast<int>(workers.size()), [&](int w, size_t i) {
      if (stop != nullptr && stop->load()) return false;
      wire::Record r = workers[static_cast<size_t>(w)].worker->process(*todo[i]);
      r.collection = stamp.collection;
      r.schedule = stamp.schedule;
      r.label = stamp.label;
      std::lock_guard lock(mu);
      if (!write_error.empty()) return false;
      try {
        if (out != nullptr) out->append(r);
      } catch (const std::exception& e) {
        write_error = e.what();  // a full disk: stop everyone, nothing half-recorded
        return false;
      }
      ++stats.sent;
      if (on_record) on_record(r);
      return true;
    });
  stats.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!write_error.empty()) throw std::runtime_error(write_error);
  return stats;
}

std::vector<TargetSummary> summarize(const std::vector<wire::Record>& records) {
  std::vector<TargetSummary> rows;
  auto row_for = [&](const std::string& target) {
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].target == target) return i;
    rows.push_back({});
    rows.back().target = target;
    return rows.size() - 1;
  };
  for (const wire::Record& r : records) {
    const size_t mine = row_for(r.target), all = row_for("all");
    for (TargetSummary* s : {&rows[mine], &rows[all]}) {
      ++s->images;
      s->file_bytes += r.file_bytes;
      s->bytes_sent += r.bytes_sent;
      if (!r.ok) {
        ++s->failed;
        continue;
      }
      ++s->ok;
      s->inference_ms += r.timing.inference;
      s->upload_ms += r.timing.upload;
      s->queue_ms += r.timing.queue;
      s->round_trip_ms += r.timing.round_trip;
      s->total_ms += r.timing.total;
    }
  }
  // "all" last, and only when it adds something.
  std::stable_partition(rows.begin(), rows.end(), [](const TargetSummary& s) { return s.target != "all"; });
  if (rows.size() == 2) rows.pop_back();
  for (TargetSummary& s : rows)
    if (s.ok > 0)
      for (double* v : {&s.inference_ms, &s.upload_ms, &s.queue_ms, &s.round_trip_ms, &s.total_ms})
        *v /= static_cast<double>(s.ok);
  return rows;
}

std::string summary_table(const std::vector<TargetSummary>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-28s %7s %6s %12s %10s %9s %10s\n", "target", "images", "failed",
                "inference ms", "upload ms", "queue ms", "total ms");
  out += line;
  for (const TargetSummary& s : rows) {
    std::string name = s.target.size() > 28 ? "…" + s.target.substr(s.target.size() - 27) : s.target;
    std::snprintf(line, sizeof line, "%-28s %7zu %6zu %12.1f %10.1f %9.1f %10.1f\n", name.c_str(), s.images, s.failed,
                  s.inference_ms, s.upload_ms, s.queue_ms, s.total_ms);
    out += line;
  }
  return out;
}

}  // namespace lookout::client
