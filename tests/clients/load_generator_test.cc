// The load generator (client/load_generator.h) against an in-process fake RecordsService that
// counts what it is sent: how many operations a count-mode run issues, one connection and at most
// one operation in flight per client, the read mix, and how refused and timed-out operations are
// counted.
#include "client/load_generator.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.grpc.pb.h"

namespace semisync {
namespace client {
namespace {

// Answers ListRecords (the generator's probe), CreateRecord (ids 1, 2, ...; even ids acked) and
// GetRecord (found when the id was created), and records what each connection sent.
class FakeRecords final : public v1::RecordsService::Service {
 public:
  // Every CreateRecord fails with FAILED_PRECONDITION, as on a slave.
  bool refuse_writes = false;
  // GetRecord of an id divisible by 3 answers NOT_FOUND, as if the record had been deleted.
  bool every_third_deleted = false;
  // CreateRecord waits until `release` is notified (or 30 s) before answering.
  bool hang_writes = false;
  absl::Notification release;

  grpc::Status ListRecords(grpc::ServerContext*, const v1::ListRecordsRequest*,
                           v1::ListRecordsResponse*) override {
    return grpc::Status::OK;
  }

  grpc::Status CreateRecord(grpc::ServerContext* ctx, const v1::CreateRecordRequest* req,
                            v1::RecordWriteResponse* resp) override {
    Enter(ctx->peer());
    if (hang_writes) release.WaitForNotificationWithTimeout(absl::Seconds(30));
    absl::MutexLock lock(&mu_);
    in_flight_[ctx->peer()]--;
    writes_++;
    for (char c : req->content()) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) bad_content_++;
    }
    content_sizes_.insert(req->content().size());
    if (refuse_writes) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "read-only");
    const int64_t id = ++last_id_;
    resp->mutable_record()->set_id(id);
    resp->mutable_record()->set_content(req->content());
    resp->mutable_write()->set_position(id);
    resp->mutable_write()->set_semi_sync_acked(id % 2 == 0);
    return grpc::Status::OK;
  }

  grpc::Status GetRecord(grpc::ServerContext* ctx, const v1::GetRecordRequest* req,
                         v1::Record* resp) override {
    Enter(ctx->peer());
    absl::MutexLock lock(&mu_);
    in_flight_[ctx->peer()]--;
    reads_++;
    if (req->id() < 1 || req->id() > last_id_) {
      unknown_ids_++;
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such record");
    }
    if (every_third_deleted && req->id() % 3 == 0) {
      not_found_++;
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "deleted");
    }
    resp->set_id(req->id());
    return grpc::Status::OK;
  }

  // What the fake has been sent so far.
  struct Seen {
    int64_t writes = 0;
    int64_t reads = 0;
    int64_t not_found = 0;    // reads answered NOT_FOUND as deleted
    int64_t unknown_ids = 0;  // reads of an id never created
    int64_t bad_content = 0;  // content bytes outside [a-z0-9]
    std::set<size_t> content_sizes;
    size_t peers = 0;       // distinct client address:port, i.e. TCP connections
    int max_in_flight = 0;  // the most operations one connection ever had in flight at once
  };
  Seen seen() {
    absl::MutexLock lock(&mu_);
    Seen s;
    s.writes = writes_;
    s.reads = reads_;
    s.not_found = not_found_;
    s.unknown_ids = unknown_ids_;
    s.bad_content = bad_content_;
    s.content_sizes = content_sizes_;
    s.peers = in_flight_.size();
    s.max_in_flight = max_in_flight_;
    return s;
  }

 private:
  void Enter(const std::string& peer) {
    absl::MutexLock lock(&mu_);
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_[peer]);
  }

  absl::Mutex mu_;
  int64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t not_found_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unknown_ids_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t bad_content_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<size_t> content_sizes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

class LoadGeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    fake_.release.Notify();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  LoadOptions Options(int clients, int64_t count) {
    LoadOptions o;
    o.target = address_;
    o.clients = clients;
    o.count = count;
    o.rpc_timeout = absl::Seconds(10);
    return o;
  }

  FakeRecords fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(LoadGeneratorTest, CountModeIssuesExactlyCountWritesOneConnectionAndOneOpPerClient) {
  LoadOptions o = Options(8, 203);
  o.content_bytes = 17;
  int64_t last_done = -1;
  o.on_progress = [&](const LoadProgress& p) { last_done = p.done; };
  absl::StatusOr<LoadSummary> s = RunLoad(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake_.seen().writes, 203);
  EXPECT_EQ(s->writes, 203u);
  EXPECT_EQ(s->reads, 0u);
  EXPECT_EQ(s->errors, 0u);
  EXPECT_EQ(s->acked, 101u);  // the even ids of 1..203
  EXPECT_EQ(s->clients, 8);
  EXPECT_GT(s->write_p50_ms, 0);
  EXPECT_LE(s->write_p50_ms, s->write_p99_ms);
  EXPECT_EQ(last_done, 203);  // the final progress report
  EXPECT_EQ(fake_.seen().peers, 8u);
  EXPECT_EQ(fake_.seen().max_in_flight, 1);
  EXPECT_EQ(fake_.seen().content_sizes, std::set<size_t>{17});
  EXPECT_EQ(fake_.seen().bad_content, 0);
}

TEST_F(LoadGeneratorTest, CountBelowClientsIssuesOnlyCount) {
  absl::StatusOr<LoadSummary> s = RunLoad(Options(16, 3));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake_.seen().writes, 3);
  EXPECT_EQ(s->writes, 3u);
  EXPECT_EQ(fake_.seen().peers, 3u);
}

TEST_F(LoadGeneratorTest, ReadMixReadsKnownIdsAndCountsNotFoundAsOk) {
  fake_.every_third_deleted = true;
  LoadOptions o = Options(4, 600);
  o.read_pct = 50;
  absl::StatusOr<LoadSummary> s = RunLoad(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->errors, 0u);
  EXPECT_EQ(s->reads + s->writes, 600u);
  EXPECT_EQ(fake_.seen().reads, static_cast<int64_t>(s->reads));
  EXPECT_EQ(fake_.seen().writes, static_cast<int64_t>(s->writes));
  // About half of each (the first operation of a client is a write: no id is known yet).
  EXPECT_GT(s->reads, 200u);
  EXPECT_GT(s->writes, 200u);
  EXPECT_EQ(fake_.seen().unknown_ids, 0);  // reads pick an id the generator saw created
  EXPECT_GT(fake_.seen().not_found, 0);    // and NOT_FOUND answers counted as successful reads
  EXPECT_GT(s->read_p50_ms, 0);
}

TEST_F(LoadGeneratorTest, RefusedWritesAreCountedAsErrorsWithTheLastError) {
  fake_.refuse_writes = true;
  absl::StatusOr<LoadSummary> s = RunLoad(Options(3, 7));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(fake_.seen().writes, 7);
  EXPECT_EQ(s->errors, 7u);
  EXPECT_EQ(s->writes, 0u);
  EXPECT_EQ(s->last_error_code, "FAILED_PRECONDITION");
  EXPECT_EQ(s->last_error, "read-only");
}

TEST_F(LoadGeneratorTest, OperationsPastTheirDeadlineAreCountedAsErrors) {
  fake_.hang_writes = true;
  LoadOptions o = Options(2, 2);
  o.rpc_timeout = absl::Milliseconds(200);
  absl::StatusOr<LoadSummary> s = RunLoad(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->errors, 2u);
  EXPECT_EQ(s->last_error_code, "DEADLINE_EXCEEDED");
}

TEST_F(LoadGeneratorTest, DurationModeStopsAfterTheDuration) {
  LoadOptions o = Options(4, 0);
  o.duration = absl::Milliseconds(300);
  o.progress_interval = absl::Milliseconds(50);
  int progress_calls = 0;
  int64_t last_done = -1;
  o.on_progress = [&](const LoadProgress& p) {
    progress_calls++;
    last_done = p.done;
  };
  absl::StatusOr<LoadSummary> s = RunLoad(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GE(s->seconds, 0.3);
  EXPECT_GT(s->writes, 0u);
  EXPECT_EQ(s->errors, 0u);
  EXPECT_EQ(fake_.seen().writes, static_cast<int64_t>(s->writes));
  EXPECT_GE(progress_calls, 2);
  EXPECT_EQ(last_done, static_cast<int64_t>(s->writes));
  EXPECT_EQ(fake_.seen().max_in_flight, 1);
}

TEST_F(LoadGeneratorTest, LagIsSampledOnTheLagTarget) {
  // The fake is its own "slave": every acknowledged record is readable at once.
  LoadOptions o = Options(2, 300);
  o.lag_target = address_;
  o.lag_sample_interval = absl::Microseconds(1);
  absl::StatusOr<LoadSummary> s = RunLoad(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->writes, 300u);
  EXPECT_GT(s->lag_samples, 0u);
  EXPECT_EQ(s->lag_timeouts, 0u);
  EXPECT_GE(s->lag_max_ms, s->lag_p50_ms);
}

}  // namespace
}  // namespace client
}  // namespace semisync
