// The verbs. Each takes argv starting at the verb's name and returns the
// process exit code: 0 success, 1 some work failed, 2 usage or model error.
#pragma once

#include <filesystem>
#include <string>

namespace lookout::cli {

// `path` as given, unless it is the default (relative to the repository) and
// not found from here: then the default next to the binary's directory or its
// parent (build/lookout run from elsewhere).
std::filesystem::path resolve_default(const std::string& path, const char* default_path);

// The cores this process may run on (its affinity mask), at least 1.
int available_cores();

int bench_main(int argc, char** argv);
int collections_main(int argc, char** argv);
int detect_main(int argc, char** argv);
int serve_main(int argc, char** argv);

}  // namespace lookout::cli
