// A CPU quota for this process: the local side measured as the weak device
// it stands for (a quarter of a core for a small board with a camera).
// Every thread of the process, present and future, runs in a cgroup of its
// own whose CPU bandwidth is capped at `cores` CPUs' worth of time (cgroup
// v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us, whichever this
// kernel mounts). A short period keeps the cap smooth at the scale of one
// image rather than letting a detector run at full speed and then stall.
//
// Lifecycle as XNNPACK's objects: create (moves the process in), set
// (changes the cap), destroy (moves the process back to the cgroup it came
// from and removes the group).
#pragma once

#include <string>

namespace lookout::client {

class CpuQuota {
 public:
  // Empty when this machine can cap this process; otherwise why not and
  // what to do ("needs root", "no cpu controller mounted ..."). On cgroup
  // v2 it enables cpu for the groups above where the new group would go,
  // as the constructor would.
  static std::string unavailable_reason();

  // Empty when `cores` is a cap this machine can apply (more than 0, at
  // most its online CPUs); otherwise the rule broken. For argument checks
  // before anything is created.
  static std::string invalid_cores(double cores);

  // Throws std::runtime_error with unavailable_reason() or the failing path.
  explicit CpuQuota(double cores);
  ~CpuQuota();
  CpuQuota(const CpuQuota&) = delete;
  CpuQuota& operator=(const CpuQuota&) = delete;

  void set(double cores);
  double cores() const { return cores_; }
  // The cgroup directory this process runs in while the quota lives.
  const std::string& group() const { return group_; }

 private:
  double cores_ = 0;
  bool v2_ = false;     // cpu.max rather than cpu.cfs_quota_us / cpu.cfs_period_us
  long period_us_ = 0;  // the period last written (v1 writes it only when it changes)
  std::string group_;   // the cgroup directory made for this process
  std::string parent_;  // where the process was before
};

}  // namespace lookout::client
