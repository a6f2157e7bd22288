// Tests for HealthService (server/health_service.h) against a real in-process server: Check is
// served by an AsyncRpcLoop, Watch by gRPC's sync threads, both through a real channel and the
// generated grpc.health.v1 stub, with the semantics of gRPC's default health service.
#include "server/health_service.h"

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/async_rpc.h"

namespace semisync {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

constexpr auto kCallTimeout = std::chrono::seconds(10);

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kCallTimeout;
}

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    loop_ = std::make_unique<AsyncRpcLoop>(&builder, 1, "rpc");
    health_.Register(&builder, loop_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    loop_->Start();
    stub_ = Health::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(Deadline());
    if (loop_ != nullptr) loop_->Shutdown();
  }

  // Check(service): the status, and the serving status when the status is OK.
  grpc::Status Check(const std::string& service, HealthCheckResponse::ServingStatus* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::Status s = stub_->Check(&ctx, req, &resp);
    *out = resp.status();
    return s;
  }

  // The serving status Check reports, or UNKNOWN (the enum's zero) when Check fails.
  HealthCheckResponse::ServingStatus StatusOf(const std::string& service) {
    HealthCheckResponse::ServingStatus out = HealthCheckResponse::UNKNOWN;
    grpc::Status s = Check(service, &out);
    EXPECT_TRUE(s.ok()) << "Check('" << service << "'): " << s.error_code() << " "
                        << s.error_message();
    return s.ok() ? out : HealthCheckResponse::UNKNOWN;
  }

  // Declared in destruction order: the server goes first, then the loop, then the service.
  HealthService health_;
  std::unique_ptr<AsyncRpcLoop> loop_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

// One Watch stream, read with the stream's deadline: Next() expects a message, EndsWithoutMessage()
// expects none before the stream ends; Finish() or Cancel() ends it.
class WatchStream {
 public:
  WatchStream(Health::Stub* stub, const std::string& service,
              std::chrono::system_clock::time_point deadline = Deadline()) {
    ctx_.set_deadline(deadline);
    HealthCheckRequest req;
    req.set_service(service);
    reader_ = stub->Watch(&ctx_, req);
  }

  // The next streamed status, or UNKNOWN (the enum's zero) if the stream ended.
  HealthCheckResponse::ServingStatus Next() {
    HealthCheckResponse resp;
    if (!reader_->Read(&resp)) {
      ADD_FAILURE() << "Watch stream ended before the expected message";
      return HealthCheckResponse::UNKNOWN;
    }
    return resp.status();
  }

  // True if the stream ends (e.g. at its deadline) without another message.
  bool EndsWithoutMessage() {
    HealthCheckResponse resp;
    if (reader_->Read(&resp)) {
      ADD_FAILURE() << "unexpected message: " << resp.ShortDebugString();
      return false;
    }
    return true;
  }

  grpc::Status Finish() { return reader_->Finish(); }

  grpc::Status Cancel() {
    ctx_.TryCancel();
    return reader_->Finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader_;
};

TEST_F(HealthServiceTest, OverallServiceIsServingFromTheStart) {
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::SERVING);
}

TEST_F(HealthServiceTest, CheckOfUnknownServiceIsNotFoundNamingIt) {
  HealthCheckResponse::ServingStatus out;
  grpc::Status s = Check("no.such.Service", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no.such.Service"));
}

TEST_F(HealthServiceTest, SetServingStatusOfOneServiceIsReflectedByCheck) {
  health_.SetServingStatus("semisync.v1.RecordsService", true);
  EXPECT_EQ(StatusOf("semisync.v1.RecordsService"), HealthCheckResponse::SERVING);

  health_.SetServingStatus("semisync.v1.RecordsService", false);
  EXPECT_EQ(StatusOf("semisync.v1.RecordsService"), HealthCheckResponse::NOT_SERVING);
  // The other services keep their status.
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::SERVING);

  health_.SetServingStatus("", false);
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf("semisync.v1.RecordsService"), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, SetServingStatusWithoutNameFlipsEveryKnownService) {
  health_.SetServingStatus("a", true);
  health_.SetServingStatus("b", false);

  health_.SetServingStatus(false);
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf("a"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf("b"), HealthCheckResponse::NOT_SERVING);

  health_.SetServingStatus(true);
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf("a"), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf("b"), HealthCheckResponse::SERVING);

  // It does not invent services.
  HealthCheckResponse::ServingStatus out;
  EXPECT_EQ(Check("c", &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, ShutdownMakesEverythingNotServingAndFreezesIt) {
  health_.SetServingStatus("a", true);

  health_.Shutdown();
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf("a"), HealthCheckResponse::NOT_SERVING);

  health_.SetServingStatus("a", true);
  health_.SetServingStatus("", true);
  health_.SetServingStatus(true);
  health_.SetServingStatus("new", true);
  EXPECT_EQ(StatusOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf("a"), HealthCheckResponse::NOT_SERVING);
  HealthCheckResponse::ServingStatus out;
  EXPECT_EQ(Check("new", &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchStreamsTheCurrentStatusThenEachChange) {
  health_.SetServingStatus("a", true);
  WatchStream watch(stub_.get(), "a");
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  health_.SetServingStatus("a", false);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);

  health_.SetServingStatus("a", true);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  EXPECT_EQ(watch.Cancel().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, WatchSendsNothingWhileItsServiceIsUnchanged) {
  health_.SetServingStatus("a", true);
  // A short stream: it ends at its deadline unless something is (wrongly) sent.
  WatchStream watch(stub_.get(), "a", std::chrono::system_clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  health_.SetServingStatus("b", false);  // each wakes the watcher, but "a" does not change
  health_.SetServingStatus("b", true);
  health_.SetServingStatus("a", true);
  EXPECT_TRUE(watch.EndsWithoutMessage());
  EXPECT_EQ(watch.Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(HealthServiceTest, WatchOfUnknownServiceStreamsServiceUnknownThenItsStatus) {
  WatchStream watch(stub_.get(), "later");
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVICE_UNKNOWN);

  health_.SetServingStatus("later", true);
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  EXPECT_EQ(watch.Cancel().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, WatchSeesShutdownAsNotServing) {
  WatchStream watch(stub_.get(), "");
  EXPECT_EQ(watch.Next(), HealthCheckResponse::SERVING);

  health_.Shutdown();
  EXPECT_EQ(watch.Next(), HealthCheckResponse::NOT_SERVING);

  EXPECT_EQ(watch.Cancel().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace semisync
