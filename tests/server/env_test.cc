// `lookout serve` configured by environment variables (LOOKOUT_<FLAG>), as
// the container image and the Kubernetes Deployment configure it: the real
// server, started with no flag for what the environment sets.
#include <gtest/gtest.h>

#include <string>

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

TEST(EnvConfig, HelpNamesTheVariableOfEveryOption) {
  const CommandResult r = run_command(shell_quote(LOOKOUT_BINARY) + " serve --help");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* env : {"LOOKOUT_HOST", "LOOKOUT_PORT", "LOOKOUT_WORKERS", "LOOKOUT_THREADS_PER_WORKER",
                          "LOOKOUT_MAX_QUEUE", "LOOKOUT_MAX_BODY_MB", "LOOKOUT_MAX_PIXELS", "LOOKOUT_API_KEY",
                          "LOOKOUT_DRAIN_SECONDS", "LOOKOUT_LOG_FORMAT", "LOOKOUT_MODEL", "LOOKOUT_BACKEND"}) {
    EXPECT_NE(r.out.find(std::string("Env:") + env), std::string::npos) << env << "\n" << r.out;
  }
}

}  // namespace
}  // namespace lookout::server_test
