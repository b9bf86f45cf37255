#include "client/run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

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

bool leave_to_others(double my_ms_per_image, const std::vector<OtherWorker>& others, size_t remaining) {
  if (!(my_ms_per_image > 0) || others.empty()) return false;
  double rate = 0, backlog = static_cast<double>(remaining);  // images per ms; images to finish
  for (const OtherWorker& o : others) {
    if (!(o.ms_per_image > 0)) return false;
    rate += 1.0 / o.ms_per_image;
    backlog += std::max(0.0, o.left_ms) / o.ms_per_image;
  }
  // Taken, the run ends at max(mine, (backlog - 1) / rate); left, at
  // backlog / rate: taking pays only when mine comes first.
  return my_ms_per_image >= backlog / rate;
}

RunStats process_images(const std::vector<ImageFile>& jobs, std::vector<WorkerSlot>& workers, const RunStamp& stamp,
                  ResultsFile* out, const std::function<bool(const std::string&, const std::string&)>& skip,
                  const std::function<void(const wire::Record&)>& on_record, const std::atomic<bool>* stop) {
  using Clock = std::chrono::steady_clock;
  std::vector<const ImageFile*> todo;
  for (const ImageFile& j : jobs)
    if (!skip || !skip(stamp.collection, j.image)) todo.push_back(&j);
  RunStats stats;
  stats.skipped = jobs.size() - todo.size();

  std::vector<double> bytes(todo.size());
  double mean_bytes = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(todo[i]->path, ec);
    bytes[i] = ec ? 0.0 : static_cast<double>(size);
    mean_bytes += bytes[i] / static_cast<double>(todo.size());
  }
  struct Pace {
    double expected_ms = 0, per_byte = 0, ok_ms = 0;
    size_t ok = 0;
    bool busy = false, done = false;
    Clock::time_point since;
    double current_ms = 0;  // what the image it is on should take
    // Per image on average, and for an image of `b` bytes (see WorkerSlot).
    double mean_ms(double b) const {
      return ok > 0 ? ok_ms / static_cast<double>(ok) : expected_ms > 0 ? expected_ms + per_byte * b : 0.0;
    }
    double ms_for(double b) const { return per_byte > 0 ? expected_ms + per_byte * b : mean_ms(b); }
  };
  std::vector<Pace> paces(workers.size());
  for (size_t w = 0; w < workers.size(); ++w) {
    paces[w].expected_ms = workers[w].expected_ms;
    paces[w].per_byte = workers[w].expected_ms_per_byte;
  }
  std::mutex mu;  // guards everything below, the results file and on_record
  size_t next = 0;
  bool halt = false;
  std::string write_error;
  std::exception_ptr first_error;
  // Under the lock: worker w's next job, or none (w is done).
  const auto take = [&](size_t w) -> std::optional<size_t> {
    if (halt || next >= todo.size() || (stop != nullptr && stop->load())) return std::nullopt;
    const Clock::time_point now = Clock::now();
    std::vector<OtherWorker> others;
    for (size_t v = 0; v < paces.size(); ++v)
      if (v != w && !paces[v].done) {
        const double on_it = paces[v].busy ? std::chrono::duration<double, std::milli>(now - paces[v].since).count() : 0;
        others.push_back({paces[v].mean_ms(mean_bytes), paces[v].busy ? paces[v].current_ms - on_it : 0.0});
      }
    const double mine = paces[w].ms_for(bytes[next]);
    if (leave_to_others(mine, others, todo.size() - next)) return std::nullopt;
    paces[w].busy = true;
    paces[w].since = now;
    paces[w].current_ms = mine;
    return next++;
  };
  const auto work = [&](size_t w) {
    try {
      for (;;) {
        std::optional<size_t> i;
        {
          std::lock_guard lock(mu);
          if (!(i = take(w))) {
            paces[w].done = true;
            return;
          }
        }
        wire::Record r = workers[w].worker->process(*todo[*i]);
        r.collection = stamp.collection;
        r.schedule = stamp.schedule;
        r.label = stamp.label;
        std::lock_guard lock(mu);
        paces[w].busy = false;
        if (r.ok) {
          paces[w].ok_ms += std::chrono::duration<double, std::milli>(Clock::now() - paces[w].since).count();
          ++paces[w].ok;
        }
        if (halt) return;
        try {
          if (out != nullptr) out->append(r);
        } catch (const std::exception& e) {
          write_error = e.what();  // a full disk: stop everyone, nothing half-recorded
          halt = true;
          return;
        }
        ++stats.sent;
        if (on_record) on_record(r);
      }
    } catch (...) {
      std::lock_guard lock(mu);
      if (!first_error) first_error = std::current_exception();
      halt = true;
      paces[w].done = true;
    }
  };
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers.size(); ++w) threads.emplace_back(work, w);
  if (!workers.empty()) work(0);
  for (std::thread& t : threads) t.join();
  stats.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (first_error) std::rethrow_exception(first_error);
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
