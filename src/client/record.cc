#include "client/record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace lookout::client {

namespace fs = std::filesystem;

namespace {

std::string line_of(const wire::Record& r) { return wire::dump(wire::Json(r)) + "\n"; }

void write_all(int fd, const std::string& s, const fs::path& path) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
}

}  // namespace

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t tt = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::vector<wire::Record> read_records(const fs::path& path, std::vector<std::string>* warnings) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  return read_records(in, path.string(), warnings);
}

std::vector<wire::Record> read_records(std::istream& in, const std::string& name, std::vector<std::string>* warnings) {
  std::vector<wire::Record> records;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string why;
    try {
      records.push_back(wire::Json::parse(line).get<wire::Record>());
      continue;
    } catch (const wire::Json::parse_error& e) {
      // nlohmann's message starts with "[json.exception.parse_error.101] ".
      const std::string what = e.what();
      const size_t tag_end = what.find("] ");
      why = "not JSON: " + (tag_end == std::string::npos ? what : what.substr(tag_end + 2));
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (warnings) warnings->push_back(name + ":" + std::to_string(n) + ": " + why);
  }
  return records;
}

ResultsFile::ResultsFile(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::vector<std::string> skipped;
    std::vector<wire::Record> all = read_records(path, &skipped);
    dropped_ = skipped.size();
    // The last record of an image wins (an older file may hold retries).
    std::vector<wire::Record> kept;
    for (wire::Record& r : all) {
      if (!r.done()) {
        ++dropped_;
        continue;
      }
      if (!done_.insert(r.collection + '\n' + r.image).second) {
        ++dropped_;
        continue;
      }
      kept.push_back(std::move(r));
    }
    if (dropped_ > 0) {
      const fs::path tmp = fs::path(path.string() + ".tmp");
      {
        std::ofstream out(tmp, std::ios::trunc);
        for (const wire::Record& r : kept) out << line_of(r);
        out.flush();
        if (!out) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
      }
      fs::rename(tmp, path, ec);
      if (ec) throw std::runtime_error("cannot replace " + path.string() + ": " + ec.message());
    }
    previous_ = std::move(kept);
  } else if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + " for writing: " + std::strerror(errno));
}

ResultsFile::~ResultsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsFile::append(const wire::Record& r) {
  const std::string line = line_of(r);
  std::lock_guard lock(mu_);
  write_all(fd_, line, path_);
}

}  // namespace lookout::client
