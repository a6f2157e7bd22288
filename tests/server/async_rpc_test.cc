// Tests for AsyncRpcLoop (server/async_rpc.h) against a real in-process server: RecordsService's
// GetRecord and CreateRecord are served on the loop by handlers defined here, and called through
// a real channel and the generated stub. Handlers either finish inline (the read path) or keep
// the Responder and finish later from another thread (the write path).
#include "server/async_rpc.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.grpc.pb.h"

namespace semisync {
namespace {

using ::testing::StartsWith;

using GetHandler = AsyncUnaryHandler<v1::GetRecordRequest, v1::Record>;
using CreateHandler = AsyncUnaryHandler<v1::CreateRecordRequest, v1::RecordWriteResponse>;

constexpr auto kCallTimeout = std::chrono::seconds(10);
const absl::Duration kWaitTimeout = absl::Seconds(10);
// The grace period given to grpc::Server::Shutdown, and how long a shutdown may take to count as
// prompt: a call left in flight would hold the server until the grace period ends.
constexpr auto kShutdownGrace = std::chrono::seconds(30);
const absl::Duration kPromptShutdown = absl::Seconds(5);

std::chrono::system_clock::time_point CallDeadline() {
  return std::chrono::system_clock::now() + kCallTimeout;
}

std::string CurrentThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// Finishes calls from its own thread, in order, as the commit pipeline's completer does for
// writes.
class Completer {
 public:
  Completer() : thread_([this] { Run(); }) {}
  ~Completer() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  void Add(std::function<void()> finish) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(finish));
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> finish;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || !queue_.empty();
        };
        mu_.Await(absl::Condition(&ready));
        if (queue_.empty()) return;
        finish = std::move(queue_.front());
        queue_.pop_front();
      }
      finish();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

// A CreateRecord call whose handler kept the Responder.
struct HeldCall {
  std::string content;
  v1::RecordWriteResponse* resp = nullptr;
  Responder* done = nullptr;
};

// A CreateRecord call made with the client's async API, completing on a gRPC thread.
struct PendingCreate {
  grpc::ClientContext ctx;
  v1::CreateRecordRequest req;
  v1::RecordWriteResponse resp;
  grpc::Status status;
  absl::Notification done;
};

// Echoes the request: id → id, content "record <id>".
GetHandler EchoGet() {
  return [](grpc::ServerContext*, const v1::GetRecordRequest& req, v1::Record* resp,
            Responder* done) {
    resp->set_id(req.id());
    resp->set_content(absl::StrCat("record ", req.id()));
    done->Finish(grpc::Status::OK);
  };
}

class AsyncRpcTest : public ::testing::Test {
 protected:
  void TearDown() override { Stop(); }

  // Serves GetRecord and CreateRecord with these handlers on a loop of `threads` threads.
  void Start(int threads, GetHandler get, CreateHandler create) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    loop_ = std::make_unique<AsyncRpcLoop>(&builder, threads, "rpc");
    v1::RecordsService::AsyncService* svc = &service_;
    using S = v1::RecordsService::AsyncService;
    loop_->AddUnary(AsyncRequest(svc, &S::RequestGetRecord), std::move(get));
    loop_->AddUnary(AsyncRequest(svc, &S::RequestCreateRecord), std::move(create));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    loop_->Start();
    stub_ = v1::RecordsService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  // The documented order: the server first, then the loop. Returns how long it took.
  absl::Duration Stop() {
    const absl::Time start = absl::Now();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    if (loop_ != nullptr) loop_->Shutdown();
    return absl::Now() - start;
  }

  // A CreateRecord handler that keeps the Responder in held_.
  CreateHandler Hold() {
    return [this](grpc::ServerContext*, const v1::CreateRecordRequest& req,
                  v1::RecordWriteResponse* resp, Responder* done) {
      absl::MutexLock lock(&mu_);
      held_.push_back(HeldCall{req.content(), resp, done});
    };
  }

  // Waits until `n` calls are held; the n-th, or an empty HeldCall on timeout.
  HeldCall WaitForHeld(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.size() >= n; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&enough), kWaitTimeout)) {
      ADD_FAILURE() << "no handler got call " << n << " within " << kWaitTimeout;
      return HeldCall{};
    }
    return held_[n - 1];
  }

  std::unique_ptr<PendingCreate> StartCreate(const std::string& content) {
    auto call = std::make_unique<PendingCreate>();
    call->ctx.set_deadline(CallDeadline());
    call->req.set_content(content);
    PendingCreate* c = call.get();
    stub_->async()->CreateRecord(&c->ctx, &c->req, &c->resp, [c](grpc::Status s) {
      c->status = std::move(s);
      c->done.Notify();
    });
    return call;
  }

  grpc::Status Get(int64_t id, v1::Record* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    v1::GetRecordRequest req;
    req.set_id(id);
    return stub_->GetRecord(&ctx, req, out);
  }

  grpc::Status Create(const std::string& content, v1::RecordWriteResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(CallDeadline());
    v1::CreateRecordRequest req;
    req.set_content(content);
    return stub_->CreateRecord(&ctx, req, out);
  }

  absl::Mutex mu_;
  std::vector<HeldCall> held_ ABSL_GUARDED_BY(mu_);
  Completer completer_;
  // Destroyed in reverse: stub, server, loop, then the service the server points at.
  v1::RecordsService::AsyncService service_;
  std::unique_ptr<AsyncRpcLoop> loop_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::RecordsService::Stub> stub_;
};

TEST_F(AsyncRpcTest, HandlerThatFinishesInlineReturnsTheResponse) {
  absl::Mutex thread_mu;
  std::string handler_thread;
  Start(
      1,
      [&thread_mu, &handler_thread](grpc::ServerContext* ctx, const v1::GetRecordRequest& req,
                                    v1::Record* resp, Responder* done) {
        {
          absl::MutexLock lock(&thread_mu);
          handler_thread = CurrentThreadName();
        }
        auto it = ctx->client_metadata().find("x-caller");
        resp->set_id(req.id());
        resp->set_content(it == ctx->client_metadata().end()
                              ? "no caller"
                              : absl::StrCat("for ", std::string(it->second.data(),
                                                                 it->second.size())));
        done->Finish(grpc::Status::OK);
      },
      Hold());

  grpc::ClientContext ctx;
  ctx.set_deadline(CallDeadline());
  ctx.AddMetadata("x-caller", "test");
  v1::GetRecordRequest req;
  req.set_id(42);
  v1::Record out;
  grpc::Status s = stub_->GetRecord(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(out.id(), 42);
  EXPECT_EQ(out.content(), "for test");
  // The thread that dequeued the call ran the handler: one of the loop's own.
  {
    absl::MutexLock lock(&thread_mu);
    EXPECT_THAT(handler_thread, StartsWith("rpc-"));
  }

  // The next call is served too (the loop posted a new one before running the handler).
  req.set_id(43);
  grpc::ClientContext ctx2;
  ctx2.set_deadline(CallDeadline());
  ASSERT_TRUE(stub_->GetRecord(&ctx2, req, &out).ok());
  EXPECT_EQ(out.id(), 43);
}

TEST_F(AsyncRpcTest, HandlerThatKeepsTheResponderFinishesLaterFromAnotherThread) {
  Start(1, EchoGet(), Hold());

  std::unique_ptr<PendingCreate> call = StartCreate("hello");
  HeldCall held = WaitForHeld(1);
  ASSERT_NE(held.done, nullptr);
  EXPECT_EQ(held.content, "hello");
  // The handler has returned without finishing: the call is still open.
  EXPECT_FALSE(call->done.HasBeenNotified());
  // Other calls are served meanwhile.
  v1::Record rec;
  ASSERT_TRUE(Get(7, &rec).ok());
  EXPECT_EQ(rec.id(), 7);

  std::thread finisher([held] {
    held.resp->mutable_record()->set_id(1);
    held.resp->mutable_record()->set_content(held.content);
    held.resp->mutable_write()->set_gtid("uuid:1");
    held.done->Finish(grpc::Status::OK);
  });
  finisher.join();

  ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(kWaitTimeout));
  ASSERT_TRUE(call->status.ok()) << call->status.error_code() << " "
                                 << call->status.error_message();
  EXPECT_EQ(call->resp.record().id(), 1);
  EXPECT_EQ(call->resp.record().content(), "hello");
  EXPECT_EQ(call->resp.write().gtid(), "uuid:1");
}

TEST_F(AsyncRpcTest, ErrorStatusReachesTheClientWithCodeAndMessage) {
  Start(
      1,
      [](grpc::ServerContext*, const v1::GetRecordRequest& req, v1::Record* resp,
         Responder* done) {
        resp->set_id(req.id());  // not sent: the status is an error
        done->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                  absl::StrCat("record ", req.id(), " not found")));
      },
      [this](grpc::ServerContext*, const v1::CreateRecordRequest&, v1::RecordWriteResponse*,
             Responder* done) {
        completer_.Add([done] {
          done->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "not the master; the master is m1:50051"));
        });
      });

  v1::Record rec;
  grpc::Status s = Get(42, &rec);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "record 42 not found");
  EXPECT_EQ(rec.id(), 0);

  v1::RecordWriteResponse w;
  s = Create("x", &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "not the master; the master is m1:50051");
}

TEST_F(AsyncRpcTest, ManyConcurrentCallsAllCompleteOnTwoThreads) {
  Start(2, EchoGet(),
        [this](grpc::ServerContext*, const v1::CreateRecordRequest& req,
               v1::RecordWriteResponse* resp, Responder* done) {
          std::string content = req.content();
          completer_.Add([resp, done, content] {
            resp->mutable_record()->set_content(content);
            done->Finish(grpc::Status::OK);
          });
        });

  constexpr int kClients = 8;
  constexpr int kCallsPerClient = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([this, c, &ok] {
      for (int i = 0; i < kCallsPerClient; ++i) {
        const int64_t id = c * 1000 + i;
        if (i % 2 == 0) {
          v1::Record rec;
          grpc::Status s = Get(id, &rec);
          EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
          if (s.ok() && rec.id() == id && rec.content() == absl::StrCat("record ", id)) ++ok;
        } else {
          v1::RecordWriteResponse w;
          const std::string content = absl::StrCat("c", id);
          grpc::Status s = Create(content, &w);
          EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
          if (s.ok() && w.record().content() == content) ++ok;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kCallsPerClient);
}

TEST_F(AsyncRpcTest, ShutdownWithNoCallsInFlightIsPrompt) {
  Start(2, EchoGet(), Hold());
  v1::Record rec;
  ASSERT_TRUE(Get(1, &rec).ok());

  EXPECT_LT(Stop(), kPromptShutdown);
}

TEST_F(AsyncRpcTest, ShutdownRightAfterAHeldCallIsFinishedIsPromptAndTheCallSucceeds) {
  Start(2, EchoGet(), Hold());
  std::unique_ptr<PendingCreate> call = StartCreate("last");
  HeldCall held = WaitForHeld(1);
  ASSERT_NE(held.done, nullptr);

  std::thread finisher([held] {
    held.resp->mutable_record()->set_content(held.content);
    held.done->Finish(grpc::Status::OK);
  });
  finisher.join();
  EXPECT_LT(Stop(), kPromptShutdown);

  ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(kWaitTimeout));
  EXPECT_TRUE(call->status.ok()) << call->status.error_code() << " "
                                 << call->status.error_message();
  EXPECT_EQ(call->resp.record().content(), "last");
}

TEST_F(AsyncRpcTest, LoopNeverStartedShutsDownWithoutHanging) {
  // The server is built and stopped, but the loop never starts: its destructor drains the queues
  // with no thread of its own. The server outlives the loop (async_rpc.h: the drain reads it).
  const absl::Time start = absl::Now();
  std::unique_ptr<grpc::Server> server;
  {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    AsyncRpcLoop loop(&builder, 2, "rpc");
    v1::RecordsService::AsyncService* svc = &service_;
    loop.AddUnary(AsyncRequest(svc, &v1::RecordsService::AsyncService::RequestGetRecord),
                  EchoGet());
    server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    ASSERT_GT(port, 0);
    server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  }
  EXPECT_LT(absl::Now() - start, kPromptShutdown);
}

TEST_F(AsyncRpcTest, LoopOfAServerNeverBuiltShutsDownWithoutHanging) {
  const absl::Time start = absl::Now();
  {
    grpc::ServerBuilder builder;
    AsyncRpcLoop loop(&builder, 2, "rpc");
  }
  EXPECT_LT(absl::Now() - start, kPromptShutdown);
}

}  // namespace
}  // namespace semisync
