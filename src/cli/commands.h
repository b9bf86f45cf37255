// The verbs. Each takes argv starting at the verb's name and returns the
// process exit code: 0 success, 1 some work failed, 2 usage or model error.
#pragma once

namespace lookout::cli {

int bench_main(int argc, char** argv);
int detect_main(int argc, char** argv);
int serve_main(int argc, char** argv);

}  // namespace lookout::cli
