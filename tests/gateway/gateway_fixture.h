// Test fixture for the HTTP gateway: a master served over gRPC (127.0.0.1:0) with the gateway in
// front (127.0.0.1:0), and helpers to check JSON responses.
#ifndef SEMISYNC_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
#define SEMISYNC_TESTS_GATEWAY_GATEWAY_FIXTURE_H_

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.pb.h"
#include "semisync/v1/replication.pb.h"
#include "server/gateway/http_gateway.h"
#include "server/master/master.h"
#include "tests/test_util/mariadb.h"

namespace semisync {
namespace gateway {

using google::protobuf::Struct;

inline Struct ParseJson(const std::string& body) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(body, &s);
  EXPECT_TRUE(status.ok()) << status << ": " << body;
  return s;
}

template <typename M>
M ParseAs(const std::string& body) {
  M m;
  auto status = google::protobuf::util::JsonStringToMessage(body, &m);
  EXPECT_TRUE(status.ok()) << status << ": " << body;
  return m;
}

// Polls `cond` until it holds or `timeout` passes (Kudu's AssertEventually).
inline bool Eventually(const std::function<bool()>& cond,
                       absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A master served over gRPC (127.0.0.1:0) with the gateway in front (127.0.0.1:0).
class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MasterOptions o;
    o.data_dir = test_util::MakeTempDir("gateway");
    o.semi_sync.enabled = false;
    o.heartbeat_period = absl::Milliseconds(100);
    auto m = Master::Open(o);
    ASSERT_TRUE(m.ok()) << m.status();
    master_ = std::move(*m);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port_);
    loop_ = std::make_unique<AsyncRpcLoop>(&b, 1, "rpc");
    master_->RegisterServices(&b, loop_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    loop_->Start();
    HttpGatewayOptions go;
    go.bind_address = "127.0.0.1";
    go.log_name = "master (test)";
    go.max_body_bytes = 1 << 20;
    gateway_ = std::make_unique<HttpGateway>(
        go, server_.get(),
        std::vector<std::string>{"semisync.v1.RecordsService", "semisync.v1.ReplicationService"});
    auto port = gateway_->Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  void TearDown() override {
    if (master_ == nullptr) return;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    if (gateway_ != nullptr) gateway_->BeginShutdown();
    master_->BeginShutdown();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(deadline));
    if (gateway_ != nullptr) gateway_->Shutdown(deadline);
    gateway_.reset();
    master_->FinishShutdown();
    loop_->Shutdown();
  }

  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_keep_alive(true);
    c.set_url_encode(false);  // send paths exactly as written
    c.set_read_timeout(10, 0);
    return c;
  }

  v1::RecordWriteResponse Create(httplib::Client& c, const std::string& content) {
    auto r = c.Post("/api/records", absl::StrCat(R"({"content":")", content, R"("})"),
                    "application/json");
    EXPECT_TRUE(r) << httplib::to_string(r.error());
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return ParseAs<v1::RecordWriteResponse>(r->body);
  }

  std::unique_ptr<Master> master_;
  std::unique_ptr<AsyncRpcLoop> loop_;  // destroyed after server_
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpGateway> gateway_;
  int port_ = 0;       // HTTP
  int grpc_port_ = 0;  // gRPC, for comparisons
};

// Checks a JSON error response: status, google.rpc.Status body, message naming the problem.
inline void ExpectJsonError(const httplib::Result& r, int status, const std::string& part,
                            const std::string& what) {
  ASSERT_TRUE(r) << what << ": " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  EXPECT_THAT(r->get_header_value("Content-Type"), ::testing::HasSubstr("application/json"))
      << what;
  Struct e = ParseJson(r->body);
  ASSERT_TRUE(e.fields().count("code") && e.fields().count("message") &&
              e.fields().count("details"))
      << what << ": " << r->body;
  EXPECT_GT(e.fields().at("code").number_value(), 0) << what;
  EXPECT_EQ(e.fields().at("details").list_value().values_size(), 0) << what;
  EXPECT_THAT(e.fields().at("message").string_value(), ::testing::HasSubstr(part)) << what;
}

// Sends `request` as is on a new connection and returns everything the server sends back until
// it closes the connection (or 10 s pass).
inline std::string RawHttp(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, n);
  }
  close(fd);
  return out;
}

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_TESTS_GATEWAY_GATEWAY_FIXTURE_H_
