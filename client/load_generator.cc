// LoadGenerator (see load_generator.h).
#include "client/load_generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"
#include "semisync/v1/records.grpc.pb.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "semisync/v1/slave.grpc.pb.h"

namespace semisync {
namespace client {
namespace {

// One sampled write for the lag measurement.
struct LagSample {
  int64_t id = 0;
  absl::Time acked;
};

// Sampled writes waiting to be seen on the slave: pushed by the drivers, popped by the lag thread.
class LagQueue {
 public:
  explicit LagQueue(absl::Duration interval) : interval_ns_(absl::ToInt64Nanoseconds(interval)) {}

  // Called by a driver after each acknowledged write; keeps about one per interval.
  void MaybeSample(int64_t id, absl::Time acked) {
    const int64_t now = absl::ToUnixNanos(acked);
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now < next) return;
    if (!next_ns_.compare_exchange_strong(next, now + interval_ns_)) return;  // another won
    absl::MutexLock lock(&mu_);
    queue_.push_back({id, acked});
  }
  bool Front(LagSample* out) {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    *out = queue_.front();
    return true;
  }
  void Pop() {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
  }

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  absl::Mutex mu_;
  std::deque<LagSample> queue_ ABSL_GUARDED_BY(mu_);
};

// Shared between the driver threads and the monitoring caller.
struct SharedState {
  std::atomic<int64_t> issued{0};  // operations claimed (count mode)
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> max_id{0};  // largest record id seen, for random reads
  LagQueue* lag = nullptr;         // set when the lag is measured
};

// What the lag thread measured.
struct LagResult {
  std::vector<double> lag_us;
  uint64_t timeouts = 0;
};

// The lag thread: resolves samples oldest first until `stop` is set and the queue is empty (or
// the remaining samples time out).
void RunLagPoller(const LoadOptions& options, LagQueue* queue, std::atomic<bool>* stop,
                  LagResult* out) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::RecordsService::NewStub(grpc::CreateCustomChannel(
      options.lag_target, grpc::InsecureChannelCredentials(), args));
  LagSample sample;
  while (true) {
    if (!queue->Front(&sample)) {
      if (stop->load()) return;
      absl::SleepFor(options.lag_poll_interval);
      continue;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::GetRecordRequest req;
    req.set_id(sample.id);
    v1::Record resp;
    grpc::Status s = stub->GetRecord(&ctx, req, &resp);
    const absl::Time now = absl::Now();
    if (s.ok()) {
      out->lag_us.push_back(absl::ToDoubleMicroseconds(now - sample.acked));
      queue->Pop();
      continue;  // the next one is probably readable as well
    }
    if (now - sample.acked > options.lag_timeout) {
      out->timeouts++;
      queue->Pop();
      continue;
    }
    absl::SleepFor(options.lag_poll_interval);
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// How many driver threads (each with its own completion queue) run the clients. One: measured on
// a 2-core VM against a local master and slave, back to back, two driver threads cost more client
// CPU per operation in 6 of 8 runs at 16 and 64 clients (median about +15%), and did not raise
// throughput (noise either way at 16 clients, lower both times at 64). gRPC's epoll1 poller has
// one epoll set and one polling thread at a time per process, so a second driver mostly waits to
// be woken with its completions. At ~50 us of CPU per operation on that VM one driver is good for
// ~20k operations/s, far above what the servers there do; revisit if it ever is the bottleneck.
constexpr int kDriverThreads = 1;

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

// What one driver thread measured. Written by its driver only; read after the join.
struct DriverResult {
  std::vector<double> write_latency_us;
  std::vector<double> read_latency_us;
  uint64_t acked = 0;
  uint64_t errors = 0;
  grpc::Status last_error;
  absl::Time last_error_at = absl::InfinitePast();
};

// One client: its own channel (one TCP connection) and the state of its one operation in flight,
// reused from one operation to the next. Used only by the driver thread that owns it.
struct Client {
  std::unique_ptr<v1::RecordsService::Stub> stub;
  std::mt19937_64 rng;
  bool read = false;  // the operation in flight is a GetRecord (else a CreateRecord)
  absl::Time start;   // just before StartCall
  // A ClientContext serves one call: emplaced before each call, reset after its completion.
  std::optional<grpc::ClientContext> ctx;
  v1::GetRecordRequest get_req;
  v1::Record get_resp;
  v1::CreateRecordRequest create_req;  // content allocated once, refilled per write
  v1::RecordWriteResponse create_resp;
  // The call in flight (at most one of the two is set). Allocated in the call's arena: reset
  // before ctx.
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Record>> get_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RecordWriteResponse>> create_call;
  grpc::Status status;
};

// One driver thread: a completion queue and the clients whose calls complete on it. Run() starts
// one operation per client, then for each completion dequeued records it and starts that client's
// next operation, until no client has one in flight; then it shuts the queue down and drains it.
class Driver {
 public:
  Driver(const LoadOptions& options, SharedState* shared) : options_(options), shared_(shared) {}

  void AddClient(int index) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per client
    args.SetInt("semisync.client_index", index);
    // Neither is of use here, and each costs CPU on every call: the retry filter (failed
    // operations are counted, never retried) and channelz's per-channel call counters.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
    auto c = std::make_unique<Client>();
    c->stub = v1::RecordsService::NewStub(
        grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args));
    c->rng.seed(index * 7919 + 1);
    c->create_req.mutable_content()->assign(options_.content_bytes, 'x');
    clients_.push_back(std::move(c));
  }

  // Returns when every client is done (time up or count reached) and the queue is drained.
  void Run(absl::Time end) {
    size_t in_flight = 0;
    for (auto& c : clients_) {
      if (Start(c.get(), end)) ++in_flight;
    }
    void* tag;
    bool ok;
    while (in_flight > 0 && cq_.Next(&tag, &ok)) {
      const absl::Time now = absl::Now();
      Client* c = static_cast<Client*>(tag);
      Complete(c, ok, now);
      if (!Start(c, end)) --in_flight;
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
  }

  DriverResult& result() { return result_; }

 private:
  // Starts c's next operation, unless the load is over for it (then returns false).
  bool Start(Client* c, absl::Time end) {
    if (options_.count > 0) {
      if (shared_->issued.fetch_add(1, std::memory_order_relaxed) >= options_.count) return false;
    } else if (absl::Now() >= end) {
      return false;
    }
    const int64_t max_id = shared_->max_id.load(std::memory_order_relaxed);
    c->read = options_.read_pct > 0 && static_cast<int>(c->rng() % 100) < options_.read_pct &&
              max_id > 0;
    if (c->read) {
      c->get_req.set_id(1 + static_cast<int64_t>(c->rng() % max_id));
    } else {
      for (char& ch : *c->create_req.mutable_content()) {
        ch = kAlphabet[c->rng() % (sizeof(kAlphabet) - 1)];
      }
    }
    c->ctx.emplace();
    c->ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    if (c->read) {
      c->get_call = c->stub->PrepareAsyncGetRecord(&*c->ctx, c->get_req, &cq_);
      c->start = absl::Now();
      c->get_call->StartCall();
      c->get_call->Finish(&c->get_resp, &c->status, c);
    } else {
      c->create_call = c->stub->PrepareAsyncCreateRecord(&*c->ctx, c->create_req, &cq_);
      c->start = absl::Now();
      c->create_call->StartCall();
      c->create_call->Finish(&c->create_resp, &c->status, c);
    }
    return true;
  }

  // Records the outcome of c's operation, which completed (was dequeued) at `now`.
  void Complete(Client* c, bool ok, absl::Time now) {
    // A unary Finish always completes with ok; anything else is counted as a failure.
    grpc::Status s = ok ? c->status
                        : grpc::Status(grpc::StatusCode::UNKNOWN, "completion queue: call failed");
    const double us = absl::ToDoubleMicroseconds(now - c->start);
    if (c->read) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) s = grpc::Status::OK;  // deleted
      if (s.ok()) result_.read_latency_us.push_back(us);
    } else if (s.ok()) {
      result_.write_latency_us.push_back(us);
      if (c->create_resp.write().semi_sync_acked()) result_.acked++;
      const int64_t id = c->create_resp.record().id();
      if (shared_->lag != nullptr) shared_->lag->MaybeSample(id, now);
      int64_t cur = shared_->max_id.load(std::memory_order_relaxed);
      while (id > cur && !shared_->max_id.compare_exchange_weak(cur, id)) {
      }
    }
    if (!s.ok()) {
      result_.errors++;
      result_.last_error = std::move(s);
      result_.last_error_at = now;
      shared_->errors.fetch_add(1, std::memory_order_relaxed);
    }
    shared_->done.fetch_add(1, std::memory_order_relaxed);
    c->get_call.reset();
    c->create_call.reset();
    c->ctx.reset();
  }

  const LoadOptions& options_;
  SharedState* const shared_;
  grpc::CompletionQueue cq_;  // declared before clients_: outlives every call made on it
  std::vector<std::unique_ptr<Client>> clients_;
  DriverResult result_;
};

absl::Status Validate(const LoadOptions& o) {
  if (o.clients < 1 || o.clients > 10000) {
    return absl::InvalidArgumentError("clients must be between 1 and 10000");
  }
  if (o.count < 0) return absl::InvalidArgumentError("count must not be negative");
  if (o.count == 0 && o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must be positive (or set a count)");
  }
  if (o.content_bytes < 1 || o.content_bytes > (1 << 20)) {
    return absl::InvalidArgumentError("content_bytes must be between 1 and 1048576");
  }
  if (o.read_pct < 0 || o.read_pct > 100) {
    return absl::InvalidArgumentError("read_pct must be between 0 and 100");
  }
  if (o.rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rpc_timeout must be positive");
  }
  if (o.measure_catchup && o.lag_target.empty()) {
    return absl::InvalidArgumentError("measure_catchup needs lag_target (the slave)");
  }
  if (!o.lag_target.empty() && (o.lag_sample_interval <= absl::ZeroDuration() ||
                                o.lag_poll_interval <= absl::ZeroDuration())) {
    return absl::InvalidArgumentError("lag_sample_interval and lag_poll_interval must be positive");
  }
  return absl::OkStatus();
}

absl::Status ToAbsl(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// One ListRecords on a fresh channel: can the target be reached at all?
absl::Status Probe(const LoadOptions& o, const std::string& target) {
  auto stub = v1::RecordsService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + o.rpc_timeout));
  v1::ListRecordsRequest req;
  req.set_limit(1);
  v1::ListRecordsResponse resp;
  return ToAbsl(stub->ListRecords(&ctx, req, &resp));
}

}  // namespace

absl::StatusOr<CatchupResult> WaitForCatchup(const std::string& master, const std::string& slave,
                                             bool start_sync, absl::Duration timeout,
                                             absl::Duration poll, absl::Time since) {
  const absl::Time start = since == absl::InfinitePast() ? absl::Now() : since;
  auto master_stub = v1::ReplicationService::NewStub(
      grpc::CreateChannel(master, grpc::InsecureChannelCredentials()));
  auto slave_stub =
      v1::SlaveService::NewStub(grpc::CreateChannel(slave, grpc::InsecureChannelCredentials()));
  auto slave_status = [&](v1::SlaveStatus* st) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return slave_stub->GetStatus(&ctx, v1::GetSlaveStatusRequest(), st);
  };
  CatchupResult r;
  v1::SlaveStatus st;
  if (grpc::Status s = slave_status(&st); !s.ok()) return ToAbsl(s);
  r.slave_start_position = st.executed_position();
  if (start_sync) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::SyncResponse resp;
    if (grpc::Status s = slave_stub->StartSync(&ctx, v1::StartSyncRequest(), &resp); !s.ok()) {
      return ToAbsl(s);
    }
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::MasterStatus ms;
    if (grpc::Status s = master_stub->GetStatus(&ctx, v1::GetMasterStatusRequest(), &ms);
        !s.ok()) {
      return ToAbsl(s);
    }
    r.master_end_position = ms.binlog_end_position();
  }
  while (true) {
    if (grpc::Status s = slave_status(&st); !s.ok()) return ToAbsl(s);
    const absl::Time now = absl::Now();
    r.slave_executed_position = st.executed_position();
    if (st.executed_position() >= r.master_end_position) {
      r.seconds = absl::ToDoubleSeconds(now - start);
      return r;
    }
    if (now - start > timeout) return r;
    absl::SleepFor(poll);
  }
}

double Percentile(std::vector<double>* values, double p) {
  if (values->empty()) return 0;
  const size_t n = values->size();
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  size_t k = std::min(n - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(values->begin(), values->begin() + k, values->end());
  return (*values)[k];
}

absl::StatusOr<LoadSummary> RunLoad(const LoadOptions& options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  if (absl::Status s = Probe(options, options.target); !s.ok()) return s;
  if (!options.lag_target.empty()) {
    if (absl::Status s = Probe(options, options.lag_target); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("lag target ", options.lag_target, ": ",
                                                 s.message()));
    }
  }

  SharedState shared;
  std::unique_ptr<LagQueue> lag_queue;
  LagResult lag;
  std::atomic<bool> lag_stop{false};
  std::thread lag_thread;
  if (!options.lag_target.empty()) {
    lag_queue = std::make_unique<LagQueue>(options.lag_sample_interval);
    shared.lag = lag_queue.get();
    lag_thread = std::thread(RunLagPoller, std::cref(options), lag_queue.get(), &lag_stop, &lag);
  }
  // The clients, dealt round-robin to the driver threads (see kDriverThreads).
  const int num_drivers = std::min(options.clients, kDriverThreads);
  std::vector<std::unique_ptr<Driver>> drivers;
  for (int d = 0; d < num_drivers; ++d) {
    drivers.push_back(std::make_unique<Driver>(options, &shared));
  }
  for (int i = 0; i < options.clients; ++i) drivers[i % num_drivers]->AddClient(i);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  const absl::Time end = options.count > 0 ? absl::InfiniteFuture() : start + options.duration;
  std::atomic<int> running{num_drivers};
  absl::Notification all_done;
  for (auto& driver : drivers) {
    threads.emplace_back([&, d = driver.get()] {
      d->Run(end);
      if (running.fetch_sub(1) == 1) all_done.Notify();
    });
  }
  auto progress = [&] {
    if (!options.on_progress) return;
    LoadProgress p;
    p.done = shared.done.load();
    p.errors = shared.errors.load();
    p.elapsed = absl::Now() - start;
    options.on_progress(p);
  };
  while (!all_done.WaitForNotificationWithTimeout(options.progress_interval)) progress();
  for (auto& t : threads) t.join();
  const absl::Time load_end = absl::Now();
  const double elapsed = absl::ToDoubleSeconds(load_end - start);
  progress();

  LoadSummary sum;
  if (options.measure_catchup) {
    absl::StatusOr<CatchupResult> c =
        WaitForCatchup(options.target, options.lag_target, /*start_sync=*/false,
                       options.catchup_timeout, absl::Milliseconds(1), load_end);
    if (c.ok()) {
      sum.catchup_s = c->seconds;
      sum.master_end_position = c->master_end_position;
      sum.slave_executed_position = c->slave_executed_position;
    } else {
      sum.last_error_code = absl::StatusCodeToString(c.status().code());
      sum.last_error = absl::StrCat("catch-up: ", c.status().message());
    }
  }
  if (lag_thread.joinable()) {
    lag_stop.store(true);
    lag_thread.join();
  }
  sum.clients = options.clients;
  sum.seconds = elapsed;
  std::vector<double> writes, reads;
  absl::Time last_error_at = absl::InfinitePast();
  for (auto& driver : drivers) {
    DriverResult& r = driver->result();
    writes.insert(writes.end(), r.write_latency_us.begin(), r.write_latency_us.end());
    reads.insert(reads.end(), r.read_latency_us.begin(), r.read_latency_us.end());
    sum.acked += r.acked;
    sum.errors += r.errors;
    if (!r.last_error.ok() && r.last_error_at > last_error_at) {
      last_error_at = r.last_error_at;
      sum.last_error_code = CodeName(r.last_error.error_code());
      sum.last_error = r.last_error.error_message();
    }
  }
  sum.writes = writes.size();
  sum.reads = reads.size();
  std::vector<double> ops(writes);
  ops.insert(ops.end(), reads.begin(), reads.end());
  sum.op_p50_ms = Percentile(&ops, 50) / 1000;
  sum.op_p95_ms = Percentile(&ops, 95) / 1000;
  sum.op_p99_ms = Percentile(&ops, 99) / 1000;
  sum.lag_samples = lag.lag_us.size();
  sum.lag_timeouts = lag.timeouts;
  sum.lag_p50_ms = Percentile(&lag.lag_us, 50) / 1000;
  sum.lag_p95_ms = Percentile(&lag.lag_us, 95) / 1000;
  sum.lag_p99_ms = Percentile(&lag.lag_us, 99) / 1000;
  sum.lag_max_ms = Percentile(&lag.lag_us, 100) / 1000;
  if (elapsed > 0) {
    sum.ops_per_s = static_cast<double>(sum.writes + sum.reads) / elapsed;
    sum.writes_per_s = static_cast<double>(sum.writes) / elapsed;
  }
  sum.write_p50_ms = Percentile(&writes, 50) / 1000;
  sum.write_p95_ms = Percentile(&writes, 95) / 1000;
  sum.write_p99_ms = Percentile(&writes, 99) / 1000;
  sum.read_p50_ms = Percentile(&reads, 50) / 1000;
  sum.read_p95_ms = Percentile(&reads, 95) / 1000;
  sum.read_p99_ms = Percentile(&reads, 99) / 1000;
  return sum;
}

std::string SummaryJson(const LoadSummary& s) {
  return absl::StrFormat(
      "{\"clients\":%d,\"seconds\":%.3f,\"ops\":%u,\"writes\":%u,\"reads\":%u,"
      "\"ops_per_s\":%.1f,\"writes_per_s\":%.1f,\"write_p50_ms\":%.3f,\"write_p95_ms\":%.3f,"
      "\"write_p99_ms\":%.3f,\"read_p50_ms\":%.3f,\"read_p95_ms\":%.3f,\"read_p99_ms\":%.3f,"
      "\"op_p50_ms\":%.3f,\"op_p95_ms\":%.3f,\"op_p99_ms\":%.3f,\"lag_samples\":%u,"
      "\"lag_timeouts\":%u,\"lag_p50_ms\":%.3f,\"lag_p95_ms\":%.3f,\"lag_p99_ms\":%.3f,"
      "\"lag_max_ms\":%.3f,\"catchup_s\":%.4f,\"master_end_position\":%u,"
      "\"slave_executed_position\":%u,"
      "\"acked\":%u,\"errors\":%u,\"last_error_code\":\"%s\",\"last_error\":\"%s\"}",
      s.clients, s.seconds, s.writes + s.reads, s.writes, s.reads, s.ops_per_s, s.writes_per_s,
      s.write_p50_ms, s.write_p95_ms, s.write_p99_ms, s.read_p50_ms, s.read_p95_ms,
      s.read_p99_ms, s.op_p50_ms, s.op_p95_ms, s.op_p99_ms, s.lag_samples, s.lag_timeouts,
      s.lag_p50_ms, s.lag_p95_ms, s.lag_p99_ms, s.lag_max_ms, s.catchup_s,
      s.master_end_position, s.slave_executed_position, s.acked, s.errors,
      JsonEscape(s.last_error_code), JsonEscape(s.last_error));
}

std::string SummaryText(const LoadSummary& s) {
  std::string out = absl::StrFormat(
      "clients     %d, %.2f s, %u ops (%u writes, %u reads), %u errors\n", s.clients, s.seconds,
      s.writes + s.reads, s.writes, s.reads, s.errors);
  absl::StrAppendFormat(&out, "throughput  %.1f ops/s (%.1f writes/s)\n", s.ops_per_s,
                        s.writes_per_s);
  absl::StrAppendFormat(&out, "write ms    p50 %.3f  p95 %.3f  p99 %.3f\n", s.write_p50_ms,
                        s.write_p95_ms, s.write_p99_ms);
  if (s.reads > 0) {
    absl::StrAppendFormat(&out, "read ms     p50 %.3f  p95 %.3f  p99 %.3f\n", s.read_p50_ms,
                          s.read_p95_ms, s.read_p99_ms);
  }
  if (s.lag_samples > 0 || s.lag_timeouts > 0) {
    absl::StrAppendFormat(&out, "lag ms      p50 %.3f  p95 %.3f  p99 %.3f  max %.3f (%u samples",
                          s.lag_p50_ms, s.lag_p95_ms, s.lag_p99_ms, s.lag_max_ms, s.lag_samples);
    if (s.lag_timeouts > 0) absl::StrAppendFormat(&out, ", %u timed out", s.lag_timeouts);
    out += ")\n";
  }
  if (s.catchup_s >= 0) {
    absl::StrAppendFormat(&out, "catch-up    %.3f s after the load (slave reached position %u)\n",
                          s.catchup_s, s.master_end_position);
  }
  absl::StrAppendFormat(&out, "acked       %u of %u writes semi-sync acknowledged\n", s.acked,
                        s.writes);
  if (s.errors > 0) {
    absl::StrAppendFormat(&out, "last error  %s: %s\n", s.last_error_code, s.last_error);
  }
  return out;
}

}  // namespace client
}  // namespace semisync
