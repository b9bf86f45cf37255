// CPU caps: client::CpuQuota on this test process (the cgroup files, every
// thread moved in and back, the group removed, a crashed process's group
// cleaned up), `lookout run --local-cpu` slowing the local detector by the
// cap, and the lab's `--cpu-quota` slowing its server. Times are compared
// within one run, as ratios; the expected ratio allows for the CPU share
// the uncapped side really got on this shared machine, measured alongside.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/cpu_quota.h"
#include "lab_util.h"
#include "remote_lab.h"

namespace lookout::lab_test {
namespace {

using client::CpuQuota;

std::string read_trimmed(const fs::path& file) {
  std::string text = read_file(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The cap written in a group's files, in CPUs (v2 cpu.max, or v1's two files).
double group_cores(const fs::path& group) {
  double quota = 0, period = 0;
  if (fs::exists(group / "cpu.max")) {
    std::istringstream in(read_trimmed(group / "cpu.max"));
    std::string q;
    in >> q >> period;
    if (q == "max") return -1;
    quota = std::stod(q);
  } else {
    quota = std::stod(read_trimmed(group / "cpu.cfs_quota_us"));
    period = std::stod(read_trimmed(group / "cpu.cfs_period_us"));
    if (quota < 0) return -1;
  }
  return period > 0 ? quota / period : 0;
}

// The /proc/.../cgroup line of the hierarchy that caps CPU: v1's with "cpu"
// among its controllers, else v2's.
std::string cpu_cgroup_line(const fs::path& proc_cgroup) {
  std::istringstream in(read_file(proc_cgroup));
  std::string v2;
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (controllers.empty()) v2 = line;
    if (("," + controllers + ",").find(",cpu,") != std::string::npos) return line;
  }
  return v2;
}

bool ends_with_group(const std::string& line, const std::string& group) {
  return line.ends_with("/" + fs::path(group).filename().string());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Per-image times are compared by their mean: a cap sets CPU time over wall
// time, so it sets the sum of the times, while single images fall on either
// side of a throttled gap and their median swings (5.0-6.5x at a 4x cap).
double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

class CpuQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = CpuQuota::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST(CpuQuotaCores, RefusesCapsOutsideZeroToTheMachinesCpus) {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(CpuQuota::invalid_cores(0.25), "");
  EXPECT_EQ(CpuQuota::invalid_cores(static_cast<double>(cpus)), "");
  for (const double bad : {0.0, -1.0, static_cast<double>(cpus) + 0.5}) {
    const std::string why = CpuQuota::invalid_cores(bad);
    EXPECT_NE(why.find("at most " + std::to_string(cpus)), std::string::npos) << bad << ": " << why;
  }
}

TEST_F(CpuQuotaTest, CapsEveryThreadOfThisProcessThenPutsItBackAndRemovesTheGroup) {
  // A thread started before the cap must be moved with the process.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  pid_t thread_id = 0;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    thread_id = ::gettid();
    cv.notify_all();
    cv.wait(lock, [&] { return stop; });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return thread_id != 0; });
  }
  const fs::path thread_cgroup = "/proc/self/task/" + std::to_string(thread_id) + "/cgroup";
  const std::string before = cpu_cgroup_line("/proc/self/cgroup");

  std::string group;
  {
    CpuQuota quota(0.25);
    group = quota.group();
    EXPECT_EQ(quota.cores(), 0.25);
    ASSERT_TRUE(fs::is_directory(group)) << group;
    EXPECT_EQ(fs::path(group).filename(), "lookout-cpu-" + std::to_string(::getpid()));
    EXPECT_DOUBLE_EQ(group_cores(group), 0.25);
    EXPECT_TRUE(ends_with_group(cpu_cgroup_line("/proc/self/cgroup"), group)) << read_file("/proc/self/cgroup");
    EXPECT_TRUE(ends_with_group(cpu_cgroup_line(thread_cgroup), group)) << read_file(thread_cgroup);

    quota.set(0.5);
    EXPECT_DOUBLE_EQ(group_cores(group), 0.5);
    EXPECT_EQ(quota.cores(), 0.5);
    EXPECT_THROW(quota.set(0), std::runtime_error);
    EXPECT_DOUBLE_EQ(group_cores(group), 0.5);
  }
  EXPECT_EQ(cpu_cgroup_line("/proc/self/cgroup"), before);
  EXPECT_EQ(cpu_cgroup_line(thread_cgroup), before);
  EXPECT_FALSE(fs::exists(group)) << group << " is still there";
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  waiter.join();
}

TEST_F(CpuQuotaTest, RemovesTheGroupOfAProcessThatDiedWithItsCapOn) {
  // A process that is gone: its pid names the group a crash would leave.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  fs::path stale;
  {
    CpuQuota quota(0.5);
    stale = fs::path(quota.group()).parent_path() / ("lookout-cpu-" + std::to_string(child));
  }
  ASSERT_TRUE(fs::create_directory(stale)) << stale;
  {
    CpuQuota quota(0.5);
    EXPECT_FALSE(fs::exists(stale)) << stale << " (pid " << child << " is dead) was left";
  }
  std::error_code ec;
  fs::remove(stale, ec);
}

// Seconds CPU `cpu` spent busy (any process) since boot, from /proc/stat.
double cpu_busy_s(int cpu) {
  std::istringstream in(read_file("/proc/stat"));
  const std::string name = "cpu" + std::to_string(cpu);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string label;
    f >> label;
    if (label != name) continue;
    // user nice system idle iowait irq softirq steal ...
    std::vector<double> t{std::istream_iterator<double>(f), std::istream_iterator<double>()};
    double busy = 0;
    for (size_t i = 0; i < t.size() && i < 8; ++i)
      if (i != 3 && i != 4) busy += t[i];
    return busy / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return 0;
}

// `taskset -c 0 lookout run data/small --target local --local-workers 1
// [--local-cpu CORES]` under bash's `time`: the mean per-image time, the
// process's CPU time (user + sys) and its share of the run (over real), and
// the share of CPU 0 that other processes left it.
struct LocalRun {
  double mean_ms = 0;
  double cpu_s = 0;
  double cpu_share = 0;
  double left_share = 1;
};
LocalRun local_run(const fs::path& out, const std::string& cap) {
  fs::remove(out);
  const double busy0 = cpu_busy_s(0);
  const std::string cmd = "TIMEFORMAT='cpu %U %S %R'; time taskset -c 0 " + shell_quote(LOOKOUT_BINARY) + " run " +
                          shell_quote(kPhotos.string()) + " --target local --local-workers 1 --quiet --out " +
                          shell_quote(out.string()) + (cap.empty() ? "" : " --local-cpu " + cap);
  const CommandResult r =
      run_command("cd " + shell_quote(kRoot.string()) + " && bash -c " + shell_quote(cmd) + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  LocalRun run;
  double user = 0, sys = 0, real = 0;
  if (const size_t at = r.out.rfind("cpu "); at != std::string::npos) {
    std::istringstream in(r.out.substr(at + 4));
    in >> user >> sys >> real;
  }
  run.cpu_s = user + sys;
  run.cpu_share = real > 0 ? (user + sys) / real : 0;
  const double others_s = std::max(0.0, cpu_busy_s(0) - busy0 - (user + sys));
  run.left_share = real > 0 ? std::clamp(1.0 - others_s / real, 0.05, 1.0) : 1.0;
  std::vector<double> ms;
  for (const wire::Record& rec : records(out)) ms.push_back(rec.timing.total);
  EXPECT_EQ(ms.size(), small_collection_size());
  run.mean_ms = mean(ms);
  return run;
}

TEST_F(CpuQuotaTest, LocalCpuQuarterMakesTheLocalDetectorAboutFourTimesSlower) {
  TempDir dir;
  std::vector<double> free_ms, capped_ms, free_cpu_s, capped_cpu_s, free_left, capped_left;
  for (int round = 0; round < 2; ++round) {
    const LocalRun f = local_run(dir.path() / "free.jsonl", "");
    const LocalRun c = local_run(dir.path() / "capped.jsonl", "0.25");
    free_ms.push_back(f.mean_ms);
    capped_ms.push_back(c.mean_ms);
    free_cpu_s.push_back(f.cpu_s);
    capped_cpu_s.push_back(c.cpu_s);
    free_left.push_back(f.left_share);
    capped_left.push_back(std::min(0.25, c.left_share));
    // The cap is a ceiling on the process's CPU time (start-up before the
    // process moves into its group is the only time outside it).
    EXPECT_LT(c.cpu_share, 0.25 * 1.2) << "CPU share of the whole process under --local-cpu 0.25";
  }
  // 4x slower on an idle core; less when other work takes part of CPU 0
  // from the uncapped run (or, beyond 0.75, from the capped one). More when
  // the same work takes more CPU time under the cap: in the 3 ms of every
  // 4 that the process waits, caches (and on a VM the vCPU) go cold. Zen 5
  // VM: 1.1-1.3x the CPU time, so 4.5-5.3x at the mean.
  const double work = std::max(1.0, median(capped_cpu_s) / median(free_cpu_s));
  const double expected = median(free_left) / median(capped_left) * work;
  const double ratio = median(capped_ms) / median(free_ms);
  std::printf("local per image: %.1f ms free (%.2f of CPU 0 left by others), %.1f ms at --local-cpu 0.25: %.2fx "
              "(expected %.2fx, with %.2fx the CPU time under the cap)\n",
              median(free_ms), median(free_left), median(capped_ms), ratio, expected, work);
  // Other work on CPU 0 may fall while the uncapped run waits (start-up),
  // so the ceiling never drops under an idle machine's.
  EXPECT_GT(ratio, expected / 1.6);
  EXPECT_LT(ratio, std::max(6.0, expected * 1.6));
}

TEST_F(CpuQuotaTest, RefusedCapsAndMissingRootAreSaidClearly) {
  const std::string photos = shell_quote(kPhotos.string());
  const CommandResult zero = lookout("run " + photos + " --target local --local-cpu 0 --out /dev/null");
  EXPECT_EQ(zero.status, 2) << zero.out;
  EXPECT_NE(zero.out.find("--local-cpu"), std::string::npos) << zero.out;
  EXPECT_NE(zero.out.find("at least"), std::string::npos) << zero.out;
  const CommandResult many = lookout("offload " + photos + " --remote http://127.0.0.1:1 --local-cpu 4096");
  EXPECT_EQ(many.status, 2) << many.out;
  EXPECT_NE(many.out.find("at most"), std::string::npos) << many.out;
  EXPECT_NE(lookout("run --help").out.find("root"), std::string::npos);

  // As an unprivileged user (where the build tree lets one run the binary).
  const std::string as_nobody = "setpriv --reuid 65534 --regid 65534 --clear-groups " + shell_quote(LOOKOUT_BINARY);
  if (run_command(as_nobody + " run --help >/dev/null 2>&1").status != 0) {
    std::printf("not run as nobody: setpriv missing or the binary not reachable by uid 65534\n");
    return;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0777);
  const CommandResult user = run_command("cd " + shell_quote(kRoot.string()) + " && " + as_nobody + " run " + photos +
                                         " --target local --local-cpu 0.25 --out " +
                                         shell_quote((dir.path() / "r.jsonl").string()) + " 2>&1");
  EXPECT_EQ(user.status, 2) << user.out;
  EXPECT_NE(user.out.find("needs root"), std::string::npos) << user.out;
}

// The server's CPU time (utime + stime of every thread) in seconds.
double process_cpu_s(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
  // Fields from the 3rd (state): utime and stime are the 14th and 15th.
  return (std::stod(f.at(11)) + std::stod(f.at(12))) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// One request at a time through the lab: the mean server time per image
// (decode to post-processing, as the server reports it), the server's CPU
// time, and its CPU share while it worked (over the sum of those times).
struct ServerRun {
  double mean_ms = 0;
  double cpu_s = 0;
  double cpu_share = 0;
};
ServerRun server_run(const RemoteLab& lab, const fs::path& out) {
  fs::remove(out);
  const double cpu0 = process_cpu_s(lab.server_pid());
  const CommandResult r = lookout("run " + shell_quote(kPhotos.string()) + " --target " + lab.url() +
                                  " --concurrency 1 --quiet --out " + shell_quote(out.string()));
  const double cpu_s = process_cpu_s(lab.server_pid()) - cpu0;
  EXPECT_EQ(r.status, 0) << r.out;
  std::vector<double> ms;
  double busy_ms = 0;
  for (const wire::Record& rec : records(out)) {
    const double server = rec.timing.decode + rec.timing.preprocess + rec.timing.inference + rec.timing.postprocess;
    ms.push_back(server);
    busy_ms += server;
  }
  EXPECT_EQ(ms.size(), small_collection_size());
  return {mean(ms), cpu_s, busy_ms > 0 ? 1000.0 * cpu_s / busy_ms : 0};
}

TEST_F(CpuQuotaTest, LabCpuQuotaHalfShowsInStatusAndAboutDoublesTheServersTime) {
  if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  RemoteLab lab("1gbit", "2ms");
  TempDir dir;
  EXPECT_EQ(lab.status().find("CPU quota"), std::string::npos) << lab.status();
  const ServerRun before = server_run(lab, dir.path() / "free.jsonl");
  lab.set_cpu_quota("0.5");
  const std::string status = lab.status();
  EXPECT_NE(status.find("CPU quota 0.5"), std::string::npos) << status;
  EXPECT_NE(status.find("lookout-lab-" + lab.name()), std::string::npos) << status;
  const ServerRun capped = server_run(lab, dir.path() / "capped.jsonl");
  lab.set_cpu_quota("max");
  EXPECT_EQ(lab.status().find("CPU quota 0.5"), std::string::npos) << lab.status();
  const ServerRun after = server_run(lab, dir.path() / "after.jsonl");

  // Working, the capped server gets half a CPU at most (the HTTP handling
  // outside the timed stages makes the share read a little high).
  EXPECT_LT(capped.cpu_share, 0.5 * 1.3);
  // As for --local-cpu: the share the cap takes away, times the CPU time
  // the same work grows to under it.
  const double free_ms = (before.mean_ms + after.mean_ms) / 2;
  const double got = std::min(1.0, (before.cpu_share + after.cpu_share) / 2);
  const double work = std::max(1.0, 2 * capped.cpu_s / (before.cpu_s + after.cpu_s));
  const double expected = got / 0.5 * work;
  const double ratio = capped.mean_ms / free_ms;
  std::printf("server per image: %.1f ms free (CPU share %.2f), %.1f ms at --cpu-quota 0.5: %.2fx (expected %.2fx, "
              "with %.2fx the CPU time under the cap)\n",
              free_ms, got, capped.mean_ms, ratio, expected, work);
  EXPECT_GT(ratio, expected / 1.6);
  EXPECT_LT(ratio, std::max(3.0, expected * 1.6));
}

TEST_F(CpuQuotaTest, LabDownRemovesTheQuotasGroup) {
  if (const std::string why = RemoteLab::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  RemoteLabOptions options;
  options.cpu_quota = "0.5";
  fs::path group;
  {
    RemoteLab lab(options);
    const std::string status = lab.status();
    EXPECT_NE(status.find("CPU quota 0.5"), std::string::npos) << status;
    std::ifstream state(lab.run_dir() / "state");
    for (std::string line; std::getline(state, line);)
      if (line.starts_with("CGROUP=")) group = line.substr(7);
    ASSERT_FALSE(group.empty());
    EXPECT_TRUE(fs::is_directory(group));
    EXPECT_DOUBLE_EQ(group_cores(group), 0.5);
    EXPECT_NE(read_file(group / "cgroup.procs").find(std::to_string(lab.server_pid())), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(group)) << group;
}

}  // namespace
}  // namespace lookout::lab_test
