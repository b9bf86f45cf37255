// Leaks on purpose. In the sanitized build, ctest requires LeakSanitizer's
// report from it: proof that leak detection is on in that run, with the
// environment the server tests' `lookout serve` processes inherit (they fail
// on any LeakSanitizer report in the server's stderr).
#include <cstdlib>

void* volatile g_sink;

int main() {
  g_sink = std::malloc(4242);
  g_sink = nullptr;
  return 0;
}
