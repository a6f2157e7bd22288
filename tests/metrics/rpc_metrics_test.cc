// Tests for the per-method RPC metrics interceptor (server/metrics/rpc_metrics.h): calls over
// gRPC and calls arriving through the HTTP gateway (which uses the server's in-process channel)
// are both counted, by method and status code, with a latency histogram per method.
#include "server/metrics/rpc_metrics.h"

#include <httplib.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "gtest/gtest.h"
#include "semisync/v1/slave.grpc.pb.h"
#include "server/gateway/http_gateway.h"
#include "server/metrics/metrics.h"

namespace semisync {
namespace metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GetStatus answers OK; StopSync fails with FAILED_PRECONDITION.
class FakeSlaveService final : public v1::SlaveService::Service {
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetSlaveStatusRequest*,
                         v1::SlaveStatus* response) override {
    response->set_slave_id("fake");
    return grpc::Status::OK;
  }
  grpc::Status StopSync(grpc::ServerContext*, const v1::StopSyncRequest*,
                        v1::SyncResponse*) override {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not now");
  }
};

class RpcMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(rpc_.NewInterceptorFactory());
    b.experimental().SetInterceptorCreators(std::move(f));
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::SlaveService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::Now() + absl::Seconds(5));
    gateway_.reset();
    server_->Shutdown();
  }

  grpc::Status GetStatus() {
    grpc::ClientContext ctx;
    v1::SlaveStatus out;
    return stub_->GetStatus(&ctx, v1::GetSlaveStatusRequest(), &out);
  }

  int StartGateway() {
    gateway::HttpGatewayOptions o;
    o.bind_address = "127.0.0.1";
    o.threads = 4;
    gateway_ = std::make_unique<gateway::HttpGateway>(
        o, server_.get(), std::vector<std::string>{"semisync.v1.SlaveService"});
    gateway_->AddGetHandler("/metrics", [this] {
      return gateway::HttpResponse{200, kTextContentType, registry_.RenderText()};
    });
    absl::StatusOr<int> port = gateway_->Start();
    EXPECT_TRUE(port.ok()) << port.status();
    return port.ok() ? *port : 0;
  }

  Registry registry_;
  RpcMetrics rpc_{&registry_};
  FakeSlaveService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SlaveService::Stub> stub_;
  std::unique_ptr<gateway::HttpGateway> gateway_;
};

constexpr char kGetStatus[] = "method=\"semisync.v1.SlaveService/GetStatus\"";
constexpr char kStopSync[] = "method=\"semisync.v1.SlaveService/StopSync\"";

TEST_F(RpcMetricsTest, CountsGrpcCallsByMethodAndCode) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(GetStatus().ok());
  grpc::ClientContext ctx;
  v1::SyncResponse out;
  EXPECT_EQ(stub_->StopSync(&ctx, v1::StopSyncRequest(), &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  const std::string text = registry_.RenderText();
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("grpc_server_handled_total{", kGetStatus, ",code=\"OK\"} 3\n")));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("grpc_server_handled_total{", kStopSync,
                                           ",code=\"FAILED_PRECONDITION\"} 1\n")));
  // OK is exported from a method's first call on, even when zero.
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("grpc_server_handled_total{", kStopSync, ",code=\"OK\"} 0\n")));
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("grpc_server_handling_seconds_count{", kGetStatus, "} 3\n")));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("grpc_server_handling_seconds_bucket{", kGetStatus,
                                           ",le=\"+Inf\"} 3\n")));
  EXPECT_THAT(text, HasSubstr("# TYPE grpc_server_handling_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE grpc_server_handled_total counter\n"));
}

TEST_F(RpcMetricsTest, HttpGatewayCallsAreCountedByTheSameInterceptor) {
  const int port = StartGateway();
  ASSERT_NE(port, 0);
  httplib::Client c("127.0.0.1", port);
  c.set_tcp_nodelay(true);
  for (int i = 0; i < 2; ++i) {
    auto r = c.Get("/api/status");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200) << r->body;
  }
  auto stop = c.Post("/api/sync/stop", "{}", "application/json");
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->status, 400) << stop->body;  // FAILED_PRECONDITION

  auto m = c.Get("/metrics");
  ASSERT_TRUE(m) << httplib::to_string(m.error());
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->get_header_value("Content-Type"), kTextContentType);
  EXPECT_THAT(m->body, HasSubstr(absl::StrCat("grpc_server_handled_total{", kGetStatus,
                                              ",code=\"OK\"} 2\n")));
  EXPECT_THAT(m->body, HasSubstr(absl::StrCat("grpc_server_handled_total{", kStopSync,
                                              ",code=\"FAILED_PRECONDITION\"} 1\n")));
}

TEST_F(RpcMetricsTest, UnknownMethodsAddNoSeries) {
  // A client can name any method; only registered ones may become label values.
  auto channel = server_->InProcessChannel(grpc::ChannelArguments());
  const grpc::internal::RpcMethod method("/semisync.v1.SlaveService/NoSuchMethod",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext ctx;
  v1::GetSlaveStatusRequest req;
  v1::SlaveStatus resp;
  grpc::Status s =
      grpc::internal::BlockingUnaryCall<v1::GetSlaveStatusRequest, v1::SlaveStatus,
                                        grpc::protobuf::MessageLite, grpc::protobuf::MessageLite>(
          channel.get(), method, &ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(registry_.RenderText(), Not(HasSubstr("NoSuchMethod")));
}

TEST(GrpcCodeNameTest, NamesEveryCode) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace metrics
}  // namespace semisync
