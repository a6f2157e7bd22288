// Server-streaming over the HTTP gateway: NDJSON and SSE tails of the binlog that deliver events
// written after the stream started, plain errors for streams that fail at once, and the end of
// streams and idle connections at shutdown.
#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "tests/gateway/gateway_fixture.h"

namespace semisync {
namespace gateway {
namespace {

// Collects a streamed response and lets the test wait for what it expects.
class StreamCollector {
 public:
  explicit StreamCollector(std::string separator) : separator_(std::move(separator)) {}
  bool OnData(const char* data, size_t n) {
    absl::MutexLock l(&mu_);
    buf_.append(data, n);
    size_t pos;
    while ((pos = buf_.find(separator_)) != std::string::npos) {
      items_.push_back(buf_.substr(0, pos));
      buf_.erase(0, pos + separator_.size());
    }
    return !stop_;
  }
  bool WaitFor(const std::string& needle, absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock l(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& i : items_) {
        if (absl::StrContains(i, needle)) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  void Stop() {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  std::vector<std::string> items() {
    absl::MutexLock l(&mu_);
    return items_;
  }

 private:
  const std::string separator_;
  absl::Mutex mu_;
  std::string buf_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> items_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

// Tails /api/binlog/stream on its own thread.
struct Tail {
  Tail(int port, const std::string& path, bool sse)
      : collector(sse ? "\n\n" : "\n"), client("127.0.0.1", port) {
    client.set_read_timeout(30, 0);
    httplib::Headers headers;
    if (sse) headers.emplace("Accept", "text/event-stream");
    thread = std::thread([this, path, headers] {
      client.Get(
          path, headers,
          [this](const httplib::Response& r) {
            status = r.status;
            content_type = r.get_header_value("Content-Type");
            return true;
          },
          [this](const char* d, size_t n) { return collector.OnData(d, n); });
      finished = true;
    });
  }
  ~Tail() {
    collector.Stop();
    thread.join();
  }
  StreamCollector collector;
  httplib::Client client;
  std::thread thread;
  std::atomic<int> status{0};
  std::string content_type;
  std::atomic<bool> finished{false};
};

void RegisterTail(httplib::Client& c, const std::string& id) {
  auto r = c.Post("/api/register_slave", absl::StrCat(R"({"slave_id":")", id, R"("})"),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
}

TEST_F(GatewayTest, NdjsonTailDeliversNewEventsLive) {
  httplib::Client c = Client();
  RegisterTail(c, "tail");
  Create(c, "written before");
  auto tail_connected = [&] {
    const v1::MasterStatus status = master_->Status();
    for (const auto& s : status.slaves()) {
      if (s.slave_id() == "tail" && s.connected()) return true;
    }
    return false;
  };
  {
    Tail tail(port_, "/api/binlog/stream?slave_id=tail&after_position=0", /*sse=*/false);
    ASSERT_TRUE(tail.collector.WaitFor("written before"));
    EXPECT_TRUE(tail_connected());
    Create(c, "written while tailing");
    ASSERT_TRUE(tail.collector.WaitFor("written while tailing"));
    ASSERT_TRUE(tail.collector.WaitFor("heartbeat"));  // idle streams carry heartbeats
    EXPECT_EQ(tail.status, 200);
    EXPECT_EQ(tail.content_type, "application/x-ndjson");
    for (const std::string& line : tail.collector.items()) {
      Struct s = ParseJson(line);
      EXPECT_TRUE(s.fields().count("result")) << line;
    }
  }
  // The HTTP client went away: the gRPC stream behind it ends too.
  EXPECT_TRUE(Eventually([&] { return !tail_connected(); }));
  EXPECT_EQ(c.Get("/api/records/1")->status, 200);
}

TEST_F(GatewayTest, SseTailDeliversNewEventsLive) {
  httplib::Client c = Client();
  RegisterTail(c, "sse");
  Tail tail(port_, "/api/binlog/stream?slave_id=sse", /*sse=*/true);
  ASSERT_TRUE(tail.collector.WaitFor("heartbeat"));
  Create(c, "seen over SSE");
  ASSERT_TRUE(tail.collector.WaitFor("seen over SSE"));
  EXPECT_EQ(tail.content_type, "text/event-stream");
  for (const std::string& event : tail.collector.items()) {
    ASSERT_TRUE(absl::StartsWith(event, "data: {\"result\":")) << event;
    ParseJson(event.substr(6));
  }
}

TEST_F(GatewayTest, StreamThatFailsAtOnceGetsAPlainError) {
  httplib::Client c = Client();
  ExpectJsonError(c.Get("/api/binlog/stream?slave_id=stranger"), 400, "not registered",
                  "unregistered tail");
  RegisterTail(c, "early");
  ExpectJsonError(c.Get("/api/binlog/stream?slave_id=early&after_position=50"), 400,
                  "binlog ends at 0", "tail from the future");
}

TEST_F(GatewayTest, ShutdownEndsStreamsWithAnErrorLineAndClosesIdleConnections) {
  httplib::Client c = Client();
  RegisterTail(c, "closing");
  EXPECT_EQ(c.Get("/api/status")->status, 200);  // leaves an idle keep-alive connection
  Tail tail(port_, "/api/binlog/stream?slave_id=closing", /*sse=*/false);
  ASSERT_TRUE(tail.collector.WaitFor("heartbeat"));
  const absl::Time start = absl::Now();
  gateway_->BeginShutdown();
  ASSERT_TRUE(tail.collector.WaitFor(R"({"error":{"code":14,)"));
  ASSERT_TRUE(Eventually([&] { return tail.finished.load(); }));
  gateway_->Shutdown(absl::Now() + absl::Seconds(5));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "shutdown waited for idle connections";
  auto after = Client().Get("/api/status");
  EXPECT_FALSE(after) << "still serving after shutdown";
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
