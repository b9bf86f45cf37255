// `lookout map` against the reproducible remote (scripts/remote-lab.sh),
// this side on CPU 0 and the server on the last CPU: three cells chosen so
// that each schedule wins one, every prediction within 10 % of its run and
// the verdict right; a sweep killed mid-way resumes without doing a cell
// twice; the map draws.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "client/cpu_quota.h"
#include "lab_util.h"
#include "remote_lab.h"
#include "wire/map.h"

namespace lookout::lab_test {
namespace {

using wire::MapFile;

MapFile read_map(const fs::path& file) { return wire::Json::parse(read_file(file)).get<MapFile>(); }

size_t cells_in(const fs::path& file) {
  try {
    return read_map(file).cells.size();
  } catch (const std::exception&) {
    return 0;
  }
}

// Every lookout this test starts runs on CPU 0 (children inherit it); the
// lab's server is pinned to the last CPU by the lab script.
class PinnedToCpu0 {
 public:
  PinnedToCpu0() {
    sched_getaffinity(0, sizeof before_, &before_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
  }
  ~PinnedToCpu0() { sched_setaffinity(0, sizeof before_, &before_); }

 private:
  cpu_set_t before_;
};

class MapLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    if (const std::string why = client::CpuQuota::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

std::vector<std::string> map_args(const std::string& url, const std::string& lab, const fs::path& out,
                                  const std::string& pairs, const std::string& bandwidths) {
  return {"map",          "data/small", "--remote", url,   "--lab",  lab,  "--out",    out.string(),
          "--pairs",      pairs,        "--bandwidths", bandwidths, "--rtts", "2", "--resize", "off",
          "--quiet"};
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) s += " " + shell_quote(a);
  return s;
}

double error(double predicted, double measured) { return std::abs(predicted - measured) / measured; }

struct Schedules {
  double local_s, remote_s, hybrid_s;
  const char* winner() const {
    if (local_s <= remote_s && local_s <= hybrid_s) return "local";
    return remote_s <= hybrid_s ? "remote" : "hybrid";
  }
  double of(const std::string& schedule) const {
    return schedule == "local" ? local_s : schedule == "remote" ? remote_s : hybrid_s;
  }
  // The best schedule's lead over the second best (0.25: 25 % faster).
  double lead() const {
    std::vector<double> t{local_s, remote_s, hybrid_s};
    std::sort(t.begin(), t.end());
    return t[1] / t[0] - 1.0;
  }
};

Schedules predicted(const MapFile::Cell& c) {
  const double n = static_cast<double>(c.offload.images);
  return {n * c.offload.local.ms_per_image / 1000.0, n * c.offload.remote.ms_per_image / 1000.0,
          c.offload.hybrid.predicted_s};
}

Schedules measured(const MapFile::Cell& c) {
  const wire::OffloadSummary::Measured& m = *c.offload.measured;
  return {m.local_wall_s, m.remote_wall_s, m.hybrid_wall_s};
}

// Where a cell's predictions or verdict miss: one line each, empty when all
// hold. `tie_with`: a schedule that may come out ahead of the expected
// winner by up to 10 % (a tie, for the verdict), or "" for none.
std::string misses(const MapFile::Cell& c, const char* expected_winner, const std::string& tie_with, double bound) {
  if (!c.offload.measured) return "no validation runs\n";
  std::string out;
  const auto check = [&](const char* what, double predicted, double measured) {
    if (error(predicted, measured) > bound)
      out += std::string(what) + " " + std::to_string(predicted) + " predicted, " + std::to_string(measured) +
             " measured\n";
  };
  const wire::OffloadSummary::Measured& runs = *c.offload.measured;
  check("local ms/image", c.offload.local.ms_per_image, runs.local_ms_per_image);
  check("remote ms/image", c.offload.remote.ms_per_image, runs.remote_ms_per_image);
  const Schedules p = predicted(c), m = measured(c);
  check("hybrid s", p.hybrid_s, m.hybrid_s);
  const bool tie = m.winner() == tie_with && m.of(expected_winner) <= 1.10 * m.of(m.winner());
  if (std::string(m.winner()) != expected_winner && !tie)
    out += std::string("measured winner ") + m.winner() + ", not " + expected_winner + "\n";
  if (m.lead() > 0.10 && std::string(p.winner()) != m.winner())
    out += std::string("predicted winner ") + p.winner() + ", measured " + m.winner() + "\n";
  return out;
}

TEST_F(MapLab, EachScheduleWinsACellAndThePredictionsHold) {
  RemoteLab lab("1000mbit", "2ms");
  PinnedToCpu0 pinned;  // after the lab is up: its delay proxy runs anywhere
  TempDir tmp;
  const fs::path out = tmp.path() / "map.json";
  const std::vector<std::string> weak_board = map_args(lab.url(), lab.name(), out, "0.1:1", "1000");
  const std::vector<std::string> equals = map_args(lab.url(), lab.name(), out, "1:1", "1000,1");

  // A tenth-of-a-core camera board against a one-core server at 1 Gbit/s:
  // remote (in the hybrid, the board's detector also starves its uploads).
  const CommandResult weak = lookout(joined(weak_board));
  ASSERT_EQ(weak.status, 0) << weak.out << lab.status();
  ASSERT_EQ(cells_in(out), 1u) << weak.out;

  // Equal machines at 1 Gbit/s (hybrid) and at 1 Mbit/s (local: a request
  // takes 1.3 s, a hundred images' time here and still dozens under the
  // sanitizers, so the remote adds next to nothing), killed once the first
  // of the two has landed: the rerun does only the second.
  {
    Background sweep(equals, tmp.path() / "killed.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (cells_in(out) < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(cells_in(out), 2u) << read_file(tmp.path() / "killed.log");
    sweep.kill9();
  }
  ASSERT_EQ(cells_in(out), 2u) << "the killed sweep landed a cell it had not finished";
  const CommandResult rest = lookout(joined(equals));
  ASSERT_EQ(rest.status, 0) << rest.out << lab.status();
  EXPECT_THAT(rest.out, ::testing::HasSubstr(" 1 Mbit/s, 2 ms RTT"));
  EXPECT_THAT(rest.out, ::testing::Not(::testing::HasSubstr("1000 Mbit/s, 2 ms RTT ")));
  {
    const MapFile map = read_map(out);
    ASSERT_EQ(map.cells.size(), 3u);
    std::set<std::string> keys;
    for (const MapFile::Cell& c : map.cells) EXPECT_TRUE(keys.insert(c.key()).second) << c.key() << " twice";
  }

  // Each cell: every prediction within the bound and the verdict right.
  // This machine's speed swings by 30-40 % for a few hundred ms at a time
  // and by 10-20 % over seconds (measured with lookout bench: the same
  // engine run takes 5.2 or 7.5 ms), so a cell that misses is measured
  // again, up to three times: a model that is off misses every time, noise
  // rarely three times in a row. The bound is 15 %: over the full grid
  // (BENCHMARKS.md) the cells are held to 10 %, with the misses explained.
  // At 1 Mbit/s the hybrid gives the remote only images it finishes before
  // local would (client::leave_to_others): a few of the run's hundreds, so
  // the hybrid and local alone tie, and either may come out ahead by a
  // little; a hybrid more than 10 % ahead would be a wrong verdict.
  const struct {
    const char* key;
    const char* winner;
    const char* tie_with;
    const std::vector<std::string>* args;
  } expected[] = {{"local 0.1 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT", "remote", "", &weak_board},
                  {"local 1 / remote 1 cpu, 1000 Mbit/s, 2 ms RTT", "hybrid", "", &equals},
                  {"local 1 / remote 1 cpu, 1 Mbit/s, 2 ms RTT", "local", "hybrid", &equals}};
  constexpr double kBound = 0.15;
  // Under the sanitizers the detector is several times slower and its
  // speed uneven (a tenth of a core takes half a second per photo), so the
  // sanitized run checks the sweep, the resume and the map, not the timing.
  const bool sanitized = std::getenv("LOOKOUT_SANITIZED") != nullptr;
  if (sanitized) std::printf("LOOKOUT_SANITIZED: predictions and winners not checked in a sanitized build\n");
  for (const auto& e : expected) {
    if (sanitized) break;
    SCOPED_TRACE(e.key);
    std::string all;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      MapFile map = read_map(out);
      const auto it = std::find_if(map.cells.begin(), map.cells.end(),
                                   [&](const MapFile::Cell& c) { return c.key() == e.key; });
      ASSERT_NE(it, map.cells.end()) << "no cell " << e.key;
      const std::string miss = misses(*it, e.winner, e.tie_with, kBound);
      if (miss.empty()) {
        all.clear();
        break;
      }
      all += "attempt " + std::to_string(attempt) + ":\n" + miss;
      // Measured again: out of the file, and the sweep resumes it.
      map.cells.erase(it);
      std::ofstream(out, std::ios::trunc) << wire::map_text(map);
      const CommandResult again = lookout(joined(*e.args));
      ASSERT_EQ(again.status, 0) << again.out << lab.status();
    }
    EXPECT_TRUE(all.empty()) << all;
  }

  // The map draws.
  const CommandResult report = lookout("report " + shell_quote(out.string()) + " -o " +
                                       shell_quote((tmp.path() / "map.html").string()));
  EXPECT_EQ(report.status, 0) << report.out;
}

}  // namespace
}  // namespace lookout::lab_test
