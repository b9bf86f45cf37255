// `lookout serve` configured by environment variables (LOOKOUT_<FLAG>), as
// the container image and the Kubernetes Deployment configure it: the real
// server, started with no flag for what the environment sets.
#include <gtest/gtest.h>

#include <cctype>
#include <iterator>
#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "server/server_process.h"

namespace lookout::server_test {
namespace {

// The dog photo is 768x576 = 442368 pixels.
constexpr const char* kBelowDogPixels = "LOOKOUT_MAX_PIXELS=100000";

TEST(EnvConfig, WorkersAndLimitsComeFromTheEnvironment) {
  ServerProcess server(ServerOptions{{}, {"LOOKOUT_WORKERS=1", kBelowDogPixels}, false, {}});
  // The startup line follows readiness by a moment.
  for (int i = 0; i < 100 && server.log().find("listening on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(server.log().find("(1 workers;"), std::string::npos) << server.log();
  auto res = server.client()->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;  // over LOOKOUT_MAX_PIXELS
}

TEST(EnvConfig, AFlagWinsOverTheEnvironment) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--max-pixels", "50000000"}, {kBelowDogPixels}, false, {}});
  auto res = server.client()->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST(EnvConfig, ABadValueIsRefusedLikeABadFlag) {
  const CommandResult r = run_command("LOOKOUT_PORT=notaport " + shell_quote(LOOKOUT_BINARY) + " serve 2>&1");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--port"), std::string::npos) << r.out;
}

// The options are read from the help itself, so one added later is checked
// too: each option line ("  --max-body-mb INT... (Env:LOOKOUT_MAX_BODY_MB)")
// must name its variable.
TEST(EnvConfig, HelpNamesTheVariableOfEveryOption) {
  const CommandResult r = run_command(shell_quote(LOOKOUT_BINARY) + " serve --help");
  ASSERT_EQ(r.status, 0) << r.out;
  std::istringstream lines(r.out);
  std::vector<std::string> options;
  for (std::string line; std::getline(lines, line);) {
    // "  --name ..." or "  -x,--name ...": the option's long name, then the rest.
    size_t at = 2;
    if (line.compare(0, 2, "  ") != 0) continue;
    if (line.size() > 5 && line[2] == '-' && std::isalpha(static_cast<unsigned char>(line[3])) && line[4] == ',') at = 5;
    if (line.compare(at, 2, "--") != 0) continue;
    const size_t name_end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", at + 2);
    const std::string name = line.substr(at + 2, name_end - (at + 2));
    if (name.empty() || name == "help") continue;
    std::string env = "LOOKOUT_" + name;
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_NE(line.find("(Env:" + env + ")"), std::string::npos) << "--" << name << " has no " << env << "\n"
                                                                 << r.out;
    options.push_back(name);
  }
  // Every "Env:" in the help belongs to an option line read above (the
  // reading missed none), and there are options at all.
  size_t envs = 0;
  const std::string tag = "(Env:LOOKOUT_";
  for (size_t at = r.out.find(tag); at != std::string::npos; at = r.out.find(tag, at + 1)) {
    const size_t name = at + tag.size(), end = r.out.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", name);
    if (end != std::string::npos && end > name && r.out[end] == ')') ++envs;  // not the footer's "LOOKOUT_..."
  }
  EXPECT_EQ(static_cast<size_t>(envs), options.size()) << r.out;
  EXPECT_GT(options.size(), 1u) << r.out;
}

}  // namespace
}  // namespace lookout::server_test
