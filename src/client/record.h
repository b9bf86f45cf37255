// The results file of `lookout run`: one wire::Record per JSON line,
// appended as images finish; a rerun reads it back to skip what is done.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wire/record.h"

namespace lookout::client {

// Current UTC time as 2026-11-26T16:30:00.123Z.
std::string utc_now();

// The results file of `lookout run`: JSON lines, appended one whole line per
// write, so a crash or kill -9 leaves at most one torn last line.
class ResultsFile {
 public:
  // Reads what is there (if anything): records that are done are kept;
  // transient failures and a torn last line are dropped, and the file is
  // rewritten without them (atomically, via a temporary file), so redoing
  // them adds no duplicate. Then opens it for appending.
  // Throws std::runtime_error when the file cannot be read or written.
  explicit ResultsFile(const std::filesystem::path& path);
  ~ResultsFile();
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  // Whether this file already holds a finished record of `image` in `collection`.
  bool is_done(const std::string& collection, const std::string& image) const {
    return done_.count(collection + '\n' + image) > 0;
  }
  // The records kept from earlier runs.
  const std::vector<wire::Record>& previous() const { return previous_; }
  // Lines dropped when reading (transient failures, torn or foreign lines).
  size_t dropped() const { return dropped_; }

  // Appends one line and hands it to the kernel (thread-safe).
  void append(const wire::Record& r);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mu_;  // one line at a time
  std::set<std::string> done_;
  std::vector<wire::Record> previous_;
  size_t dropped_ = 0;
};

// Every record in a JSON-lines file (blank lines ignored), skipping lines
// that are not records; `warnings` gets "file:line: reason" for each
// skipped line. Throws std::runtime_error when the file cannot be read.
std::vector<wire::Record> read_records(const std::filesystem::path& path, std::vector<std::string>* warnings);
// The same from text already read; `name` stands for the file in warnings.
std::vector<wire::Record> read_records(std::istream& in, const std::string& name, std::vector<std::string>* warnings);

}  // namespace lookout::client
