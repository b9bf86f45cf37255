// Auth (--api-key / LOOKOUT_API_KEY: Bearer or X-API-Key on the detection
// routes, health open) and TLS (--tls-cert/--tls-key with a throwaway
// self-signed certificate made by the openssl CLI), with the real server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/server_process.h"

namespace lookout::server_test {
namespace {

using nlohmann::json;

constexpr const char* kKey = "s3cret-key-for-tests";

void expect_401(const httplib::Result& res) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401) << res->body;
  const json j = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << res->body;
  EXPECT_TRUE(j.contains("error")) << res->body;
}

TEST(Auth, DetectionRoutesNeedTheKeyHealthStaysOpen) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--api-key", kKey}, {}, false, {}});
  auto c = server.client();
  const std::string dog = read_file(kDog);

  // No key, a wrong key, a wrong scheme, a key that is a prefix: 401.
  expect_401(c->Post("/api/detect?id=dog.jpg", dog, "image/jpeg"));
  expect_401(c->Post("/api/detect?id=dog.jpg", {{"Authorization", "Bearer wrong"}}, dog, "image/jpeg"));
  expect_401(c->Post("/api/detect?id=dog.jpg", {{"X-API-Key", "wrong"}}, dog, "image/jpeg"));
  expect_401(c->Post("/api/detect?id=dog.jpg", {{"Authorization", std::string("Basic ") + kKey}}, dog, "image/jpeg"));
  expect_401(c->Post("/api/detect?id=dog.jpg", {{"X-API-Key", std::string(kKey).substr(0, 5)}}, dog, "image/jpeg"));
  httplib::MultipartFormDataItems items = {{"image", dog, "dog.jpg", "image/jpeg"}};
  expect_401(c->Post("/v1/vision/detection", items));

  // The right key either way: 200.
  auto res = c->Post("/api/detect?id=dog.jpg", {{"Authorization", std::string("Bearer ") + kKey}}, dog, "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = c->Post("/api/detect?id=dog.jpg", {{"X-API-Key", kKey}}, dog, "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = c->Post("/v1/vision/detection", {{"X-API-Key", kKey}}, items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;

  // Health is open.
  for (const char* path : {"/healthz", "/v2/health/live", "/v2/health/ready"}) {
    res = c->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }

  // curl with the header as a user would type it.
  TempDir tmp;
  auto r = curl("-H " + shell_quote(std::string("Authorization: Bearer ") + kKey) +
                    " -H 'Content-Type: image/jpeg' --data-binary @" + shell_quote(kDog.string()) + " " +
                    shell_quote(server.url() + "/api/detect?id=dog.jpg"),
                tmp.path() / "out");
  EXPECT_EQ(r.status, 200) << r.body;
  r = curl("-H 'Content-Type: image/jpeg' --data-binary @" + shell_quote(kDog.string()) + " " +
               shell_quote(server.url() + "/api/detect?id=dog.jpg"),
           tmp.path() / "out2");
  EXPECT_EQ(r.status, 401) << r.body;
}

// The api_key form field: a key that is a prefix, one with a NUL or padded
// with spaces, several api_key fields, a right header with a wrong field, a
// wrong header with a right field (the header decides, before the body).
TEST(Auth, FormFieldKeyIsComparedWholeAndAHeaderWins) {
  ServerProcess server(ServerOptions{{"--workers", "1", "--api-key", kKey}, {}, false, {}});
  auto c = server.client();
  const std::string dog = read_file(kDog);
  const auto with_field = [&](const std::vector<std::string>& keys) {
    httplib::MultipartFormDataItems items = {{"image", dog, "dog.jpg", "image/jpeg"}};
    for (const std::string& k : keys) items.push_back({"api_key", k, "", ""});
    return items;
  };
  const std::string key = kKey;
  for (const std::string& bad : {key.substr(0, 5), key + std::string(1, '\0'), " " + key, key + " ", std::string()})
    expect_401(c->Post("/v1/vision/detection", with_field({bad})));
  expect_401(c->Post("/v1/vision/detection", with_field({key, "wrong"})));  // the last field counts
  expect_401(c->Post("/v1/vision/detection", {{"X-API-Key", "wrong"}}, with_field({key})));
  auto res = c->Post("/v1/vision/detection", {{"X-API-Key", key}}, with_field({"wrong"}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  // Model names in the path are names, never files.
  for (const char* path : {"/v1/vision/custom/..%2f..%2fetc%2fpasswd", "/v1/vision/custom/%00", "/v1/vision/custom/.."}) {
    res = c->Post(path, {{"X-API-Key", key}}, with_field({}));
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path << ": " << res->body;
  }
  res = c->Post("/api/detect?model=../../etc/passwd", {{"X-API-Key", key}}, dog, "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << res->body;
}

TEST(Auth, KeyFromTheEnvironment) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {std::string("LOOKOUT_API_KEY=") + kKey}, false, {}});
  auto c = server.client();
  const std::string dog = read_file(kDog);
  expect_401(c->Post("/api/detect?id=dog.jpg", dog, "image/jpeg"));
  auto res = c->Post("/api/detect?id=dog.jpg", {{"X-API-Key", kKey}}, dog, "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST(Auth, OffByDefault) {
  ServerProcess server(ServerOptions{{"--workers", "1"}, {}, false, {}});
  auto c = server.client();
  auto res = c->Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  // A key sent to a server without one is ignored.
  res = c->Post("/api/detect?id=dog.jpg", {{"X-API-Key", "anything"}}, read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

// A self-signed certificate for 127.0.0.1 in dir: cert.pem, key.pem.
bool make_cert(const fs::path& dir) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1"
                          " -addext subjectAltName=IP:127.0.0.1 -keyout " +
                          shell_quote((dir / "key.pem").string()) + " -out " + shell_quote((dir / "cert.pem").string()) +
                          " 2>&1";
  const auto r = run_command(cmd);
  if (r.status != 0) ADD_FAILURE() << cmd << "\n" << r.out;
  return r.status == 0;
}

TEST(Tls, HttpsWithASelfSignedCertificate) {
  TempDir tmp;
  ASSERT_TRUE(make_cert(tmp.path()));
  const std::string cert = (tmp.path() / "cert.pem").string();
  ServerProcess server(ServerOptions{
      {"--workers", "1", "--tls-cert", cert, "--tls-key", (tmp.path() / "key.pem").string()}, {}, true, {}});
  EXPECT_THAT(server.log(), ::testing::HasSubstr("listening on"));

  // cpp-httplib's SSLClient with the certificate as its CA: verified.
  httplib::SSLClient verified("127.0.0.1", server.port());
  verified.set_ca_cert_path(cert);
  verified.enable_server_certificate_verification(true);
  verified.set_connection_timeout(10);
  verified.set_read_timeout(60);
  auto res = verified.Post("/api/detect?id=dog.jpg", read_file(kDog), "image/jpeg");
  ASSERT_TRUE(res) << httplib::to_string(res.error()) << " (ssl error " << verified.get_openssl_verify_result() << ")";
  EXPECT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["results"][0]["status"], 200);

  // Verification off.
  httplib::SSLClient loose("127.0.0.1", server.port());
  loose.enable_server_certificate_verification(false);
  loose.set_connection_timeout(10);
  loose.set_read_timeout(60);
  res = loose.Get("/v2/health/ready");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);

  // A client that verifies against the system CAs refuses the self-signed certificate.
  httplib::SSLClient strict("127.0.0.1", server.port());
  strict.enable_server_certificate_verification(true);
  strict.set_connection_timeout(10);
  EXPECT_FALSE(strict.Get("/v2/health/ready"));

  // curl with --cacert, and the DeepStack route.
  auto r = curl("--cacert " + shell_quote(cert) + " -F " + shell_quote("image=@" + kDog.string()) + " " +
                    shell_quote(server.url() + "/v1/vision/detection"),
                tmp.path() / "out");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).value("success", false), true);

  // Plain http to the https port does not get an answer.
  httplib::Client plain("127.0.0.1", server.port());
  plain.set_connection_timeout(5);
  plain.set_read_timeout(5);
  auto p = plain.Get("/v2/health/ready");
  EXPECT_TRUE(!p || p->status != 200);
  EXPECT_TRUE(server.running());
}

TEST(Tls, MissingCertificateFileFailsAtStartup) {
  TempDir tmp;
  const std::string missing = (tmp.path() / "missing.pem").string();
  EXPECT_THROW(ServerProcess(ServerOptions{{"--workers", "1", "--tls-cert", missing, "--tls-key", missing},
                                           {},
                                           true,
                                           std::chrono::seconds(30)}),
               std::runtime_error);
}

}  // namespace
}  // namespace lookout::server_test
