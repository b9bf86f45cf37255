// httplib serves each connection on one thread from its task queue, for the
// connection's whole life (keep-alive included). A fixed pool of a few
// threads lets a handful of slow or idle clients starve everyone else, so
// the server's queue grows a thread per waiting connection, up to
// --max-connections; past that, new connections wait for a free thread.
// Slow clients are cut off by the read/write/keep-alive timeouts.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lookout::server {

class ConnectionQueue : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(size_t max_threads);
  ~ConnectionQueue() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  void run();

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace lookout::server
