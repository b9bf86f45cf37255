#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "detect/detector.h"

namespace lookout::detect {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

std::shared_ptr<const Labels> Labels::parse(const std::string& text, const std::string& origin) {
  auto labels = std::make_shared<Labels>();
  std::istringstream in(text);
  std::string line;
  std::map<int, int> first_line;  // class id -> the line that named it
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    line = trim(line);
    if (line.empty()) continue;
    size_t pos = 0;
    int id = -1;
    try {
      id = std::stoi(line, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    // The id is digits only, then blanks, then the name ("3x foo" and "+3 foo" are refused).
    const bool digits_only = pos > 0 && std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(pos),
                                                    [](unsigned char c) { return std::isdigit(c) != 0; });
    const bool blank_after = pos < line.size() && (line[pos] == ' ' || line[pos] == '\t');
    const std::string name = blank_after ? trim(line.substr(pos)) : "";
    const std::string where = origin + ":" + std::to_string(line_no) + ": ";
    if (!digits_only || id < 0 || name.empty())
      throw std::runtime_error(where + "expected \"<class id> <name>\", got \"" + line + "\"");
    const auto seen = first_line.find(id);
    if (seen != first_line.end())
      throw std::runtime_error(where + "class id " + std::to_string(id) + " is already named at line " +
                               std::to_string(seen->second));
    first_line.emplace(id, line_no);
    labels->entries_.emplace_back(id, name);
  }
  if (labels->entries_.empty()) throw std::runtime_error(origin + ": no labels");
  std::sort(labels->entries_.begin(), labels->entries_.end());
  return labels;
}

std::shared_ptr<const Labels> Labels::from_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open labels file " + path.string() + " (run scripts/setup to fetch it)");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

std::string Labels::name(int class_id) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), std::make_pair(class_id, std::string()));
  if (it != entries_.end() && it->first == class_id) return it->second;
  return "class " + std::to_string(class_id);
}

int Labels::find(const std::string& name) const {
  const std::string want = lower(trim(name));
  for (const auto& [id, n] : entries_)
    if (lower(n) == want) return id;
  return -1;
}

std::vector<int> parse_class_list(const std::string& csv, const Labels& labels) {
  std::vector<int> out;
  std::istringstream in(csv);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const int id = labels.find(item);
    if (id < 0)
      throw std::invalid_argument("unknown class '" + item + "' (class names are those of " + kDefaultLabels +
                                  ", e.g. person, car, dog)");
    out.push_back(id);
  }
  return out;
}

}  // namespace lookout::detect
