// lookout-delay-proxy: a TCP forwarder that holds every chunk it reads for a
// fixed one-way delay before passing it on, in both directions, in order.
// scripts/remote-lab.sh puts it in front of `lookout serve` inside the lab's
// network namespace, where the kernel has no netem qdisc to add delay: data
// then costs one round trip (2 x delay) per request/response exchange, as on
// a link with that RTT. The TCP handshake itself is not delayed (the kernel
// answers it before the proxy sees the connection).
//
// Per connection: two directions, each a reader thread (read, stamp with
// now + delay, queue) and a writer thread (wait until due, write). A
// direction's queue is capped so a fast sender cannot fill the memory.
// SIGHUP re-reads the delay from --delay-file; SIGTERM/SIGINT exit.
// Uses POSIX sockets, threads and CLI11, nothing of Lookout's.
#include <CLI/CLI.hpp>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kMaxQueuedBytes = 16 * 1024 * 1024;  // per direction

std::atomic<int64_t> g_delay_us{0};  // one way

void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log(const char* fmt, ...) {
  static std::mutex m;
  std::lock_guard lock(m);
  std::fputs("lookout-delay-proxy: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

// "HOST:PORT" -> a resolved IPv4/IPv6 address. Exits with a message when bad.
sockaddr_storage parse_address(const std::string& text, socklen_t& len) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    log("address '%s' is not HOST:PORT (e.g. 10.77.0.2:5029)", text.c_str());
    std::exit(2);
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), text.c_str() + colon + 1, &hints, &found);
  if (rc != 0 || found == nullptr) {
    log("cannot resolve '%s': %s", text.c_str(), gai_strerror(rc));
    std::exit(2);
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  len = found->ai_addrlen;
  freeaddrinfo(found);
  return addr;
}

// Reads the one-way delay in milliseconds (a decimal number) from `path`.
bool load_delay(const std::string& path) {
  std::ifstream in(path);
  double ms = -1;
  if (!(in >> ms) || ms < 0) {
    log("cannot read a delay in milliseconds (>= 0) from %s; keeping %.3f ms", path.c_str(), g_delay_us / 1000.0);
    return false;
  }
  g_delay_us = static_cast<int64_t>(ms * 1000 + 0.5);
  return true;
}

// One direction of a connection: from -> (held for the delay) -> to.
class DelayedPipe {
 public:
  DelayedPipe(int from, int to) : from_(from), to_(to) {}

  void read_loop() {
    std::vector<char> buf(kChunkBytes);
    while (true) {
      const ssize_t n = ::read(from_, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      const auto due = Clock::now() + std::chrono::microseconds(g_delay_us.load());
      std::unique_lock lock(mutex_);
      if (n <= 0) {  // EOF (or an error: treated as the end of this direction)
        queue_.push_back({due, {}});
        changed_.notify_all();
        return;
      }
      changed_.wait(lock, [&] { return aborted_ || queued_bytes_ < kMaxQueuedBytes; });
      if (aborted_) return;
      queue_.push_back({due, std::vector<char>(buf.begin(), buf.begin() + n)});
      queued_bytes_ += static_cast<size_t>(n);
      changed_.notify_all();
    }
  }

  // Returns false when the write side failed (the peer is gone).
  bool write_loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return !queue_.empty(); });
      const auto due = queue_.front().due;
      // Nothing else can take the front: only this thread pops.
      while (Clock::now() < due) changed_.wait_until(lock, due);
      Chunk chunk = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= chunk.data.size();
      changed_.notify_all();
      if (chunk.data.empty()) {
        ::shutdown(to_, SHUT_WR);
        return true;
      }
      lock.unlock();
      const bool ok = write_all(chunk.data);
      lock.lock();
      if (!ok) {
        aborted_ = true;
        changed_.notify_all();
        return false;
      }
      bytes_ += chunk.data.size();
    }
  }

  uint64_t bytes() const { return bytes_; }

 private:
  struct Chunk {
    Clock::time_point due;
    std::vector<char> data;  // empty = end of stream
  };

  bool write_all(const std::vector<char>& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(to_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  int from_, to_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Chunk> queue_;
  size_t queued_bytes_ = 0;
  bool aborted_ = false;
  uint64_t bytes_ = 0;
};

void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Forwards one accepted connection until both directions have ended.
void serve_connection(int client, sockaddr_storage upstream, socklen_t upstream_len) {
  const int server = ::socket(upstream.ss_family, SOCK_STREAM, 0);
  if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&upstream), upstream_len) != 0) {
    log("cannot connect to the upstream server: %s (is it running?)", std::strerror(errno));
    if (server >= 0) ::close(server);
    ::close(client);
    return;
  }
  set_nodelay(client);
  set_nodelay(server);
  DelayedPipe up(client, server), down(server, client);
  // When one side fails, both sockets are shut so every thread wakes and ends.
  const auto write_or_cut = [&](DelayedPipe& pipe) {
    if (!pipe.write_loop()) {
      ::shutdown(client, SHUT_RDWR);
      ::shutdown(server, SHUT_RDWR);
    }
  };
  std::thread up_reader([&] { up.read_loop(); });
  std::thread down_reader([&] { down.read_loop(); });
  std::thread up_writer([&] { write_or_cut(up); });
  write_or_cut(down);
  up_writer.join();
  up_reader.join();
  down_reader.join();
  ::close(client);
  ::close(server);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_at, upstream_at, delay_file;
  double delay_ms = 0;
  CLI::App app{"lookout-delay-proxy: forward TCP from --listen to --to, holding every chunk for --delay-ms in each\n"
               "direction (order preserved), so a request/response exchange costs 2 x delay more: a round-trip\n"
               "delay where the kernel has no netem qdisc. The TCP handshake is not delayed. Used by\n"
               "scripts/remote-lab.sh.",
               "lookout-delay-proxy"};
  app.add_option("--listen", listen_at, "HOST:PORT to accept connections on")->required();
  app.add_option("--to", upstream_at, "HOST:PORT of the server to forward to")->required();
  app.add_option("--delay-ms", delay_ms, "one-way delay in milliseconds (half the round trip)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--delay-file", delay_file, "on SIGHUP, read a new one-way delay in ms from this file")->type_name("FILE");
  app.footer("Signals: SIGHUP reloads --delay-file (new chunks get the new delay), SIGTERM/SIGINT exit 0.\n"
             "Exit codes: 0 on a signal, 1 cannot listen, 2 bad arguments.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  g_delay_us = static_cast<int64_t>(delay_ms * 1000 + 0.5);

  // Signals go to one thread that waits for them; the others never see them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  socklen_t listen_len = 0, upstream_len = 0;
  sockaddr_storage listen_addr = parse_address(listen_at, listen_len);
  const sockaddr_storage upstream = parse_address(upstream_at, upstream_len);
  const int listener = ::socket(listen_addr.ss_family, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&listen_addr), listen_len) != 0 ||
      ::listen(listener, 128) != 0) {
    log("cannot listen on %s: %s", listen_at.c_str(), std::strerror(errno));
    return 1;
  }
  log("listening on %s, forwarding to %s, one-way delay %.3f ms", listen_at.c_str(), upstream_at.c_str(), g_delay_us / 1000.0);

  std::thread([&] {
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        if (delay_file.empty())
          log("SIGHUP without --delay-file: delay unchanged (%.3f ms)", g_delay_us / 1000.0);
        else if (load_delay(delay_file))
          log("one-way delay now %.3f ms", g_delay_us / 1000.0);
        continue;
      }
      log("signal %d: exiting", sig);
      std::fflush(stderr);
      ::_exit(0);
    }
  }).detach();

  while (true) {
    const int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) {
      if (errno != EINTR && errno != ECONNABORTED) log("accept: %s", std::strerror(errno));
      continue;
    }
    std::thread(serve_connection, client, upstream, upstream_len).detach();
  }
}
