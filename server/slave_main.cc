// semisync_slave: a replica. Copies the master's binlog into its relay log, applies it to its own
// database, acknowledges received events for semi-sync, and serves RecordsService (reads only)
// and SlaveService (start/stop/status) over gRPC and as HTTP/JSON (default 8081), with GET
// /metrics and a health status that follows replication (docs/operations.md).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/async_rpc.h"
#include "server/gateway/http_gateway.h"
#include "server/health_service.h"
#include "server/metrics/metrics.h"
#include "server/metrics/node_metrics.h"
#include "server/metrics/rpc_metrics.h"
#include "server/node_health.h"
#include "server/process_util.h"
#include "server/records_service.h"
#include "server/slave/slave.h"
#include "server/slave/slave_service.h"
#include "server/storage/storage.h"

namespace {

bool ValidateSlaveId(const char* flag, const std::string& value) {
  bool ok = !value.empty() && value.size() <= 64;
  for (char c : value) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  }
  if (!ok) fprintf(stderr, "--%s must match [A-Za-z0-9_.-]{1,64}, got \"%s\"\n", flag,
                   value.c_str());
  return ok;
}

bool ValidatePort(const char* flag, int32_t value) {
  if (value >= 0 && value <= 65535) return true;
  fprintf(stderr, "--%s must be in [0, 65535], got %d\n", flag, value);
  return false;
}

bool ValidatePollStrategy(const char* flag, const std::string& value) {
  if (value.empty() || value == "poll" || value == "epoll1" || value == "all") return true;
  fprintf(stderr, "--%s must be poll, epoll1, all or empty, got \"%s\"\n", flag, value.c_str());
  return false;
}

bool ValidatePositive(const char* flag, int32_t value) {
  if (value > 0) return true;
  fprintf(stderr, "--%s must be > 0, got %d\n", flag, value);
  return false;
}

bool ValidateApplyDelay(const char* flag, int32_t value) {
  if (value >= 0 && value <= 1000000) return true;
  fprintf(stderr, "--%s must be in [0, 1000000] microseconds, got %d\n", flag, value);
  return false;
}

bool ValidateSegmentBytes(const char* flag, uint64_t value) {
  if (value >= 4096) return true;
  fprintf(stderr, "--%s must be at least 4096 bytes, got %llu\n", flag,
          static_cast<unsigned long long>(value));
  return false;
}

}  // namespace

DEFINE_string(id, "slave1", "Unique, stable slave id sent to the master ([A-Za-z0-9_.-]{1,64}).");
DEFINE_validator(id, &ValidateSlaveId);
DEFINE_string(master, "127.0.0.1:50051", "The master's gRPC address, host:port.");
DEFINE_int32(grpc_port, 50052, "TCP port of this slave's gRPC server; 0 picks a free port.");
DEFINE_validator(grpc_port, &ValidatePort);
DEFINE_string(bind_address, "0.0.0.0", "IP address the gRPC server listens on.");
DEFINE_int32(http_port, 8081,
             "HTTP/JSON gateway port (docs/http_gateway.md); 0 picks a free port (see --port_file).");
DEFINE_string(http_bind_address, "0.0.0.0", "IP address the HTTP/JSON gateway listens on.");
DEFINE_string(advertise_address, "",
              "host:port reported to the master for status displays (default "
              "127.0.0.1:<bound gRPC port>).");
DEFINE_string(port_file, "",
              "When set, once serving write the bound port to this file as \"grpc_port=N\".");
DEFINE_string(data_dir, "", "Directory for the relay log and state (default ./data/<id>).");
DEFINE_string(db, "",
              "SOCI connection string of the slave's database: \"sqlite3://db=PATH\" or "
              "\"mysql://db=D host=H port=P user=U password=W\" (default "
              "sqlite3://db=<data_dir>/slave.db).");
DEFINE_bool(semi_sync, true, "Take part in semi-sync acknowledgement (rpl_semi_sync_slave_enabled).");
DEFINE_bool(stop_on_apply_error, false,
            "Stop the applier at an event that fails to apply instead of counting and skipping it.");
DEFINE_uint64(relay_log_segment_bytes, 64ull << 20,
              "Relay log segment size before rotation, bytes.");
DEFINE_validator(relay_log_segment_bytes, &ValidateSegmentBytes);
DEFINE_int32(reconnect_backoff_min_ms, 100,
             "First delay before reconnecting to the master, milliseconds (doubles per failure).");
DEFINE_validator(reconnect_backoff_min_ms, &ValidatePositive);
DEFINE_int32(reconnect_backoff_max_ms, 10000,
             "Largest delay between reconnection attempts, milliseconds.");
DEFINE_validator(reconnect_backoff_max_ms, &ValidatePositive);
DEFINE_int32(heartbeat_timeout_ms, 5000,
             "Declare the link to the master dead when neither an event nor a heartbeat arrived "
             "for this long, milliseconds (the master sends heartbeats every ~1 s when idle).");
DEFINE_validator(heartbeat_timeout_ms, &ValidatePositive);
DEFINE_int32(ack_interval_ms, 500,
             "Interval of applied-position acks to the master, milliseconds (received-position "
             "acks are sent immediately).");
DEFINE_validator(ack_interval_ms, &ValidatePositive);
DEFINE_int32(health_check_interval_ms, 200,
             "How often the health status of semisync.v1.SlaveService is re-evaluated from the "
             "replication status, milliseconds.");
DEFINE_validator(health_check_interval_ms, &ValidatePositive);
DEFINE_uint64(shutdown_grace_ms, 500,
              "Milliseconds in-flight RPCs get to finish on SIGTERM/SIGINT before cancellation");
DEFINE_int32(rpc_threads, 1,
             "Threads serving the record reads unless --read_threads gives them their own, and "
             "health checks (gRPC completion-queue API, one queue each)");
DEFINE_string(grpc_poll_strategy, "poll",
              "gRPC's I/O polling engine for this process (sets GRPC_POLL_STRATEGY before gRPC "
              "starts; empty keeps the environment's or gRPC's default, epoll1). With 'poll' the "
              "relay receiver's thread reads the master's stream socket itself; with epoll1 "
              "whichever gRPC thread polls reads it and wakes the receiver, a hand-off per "
              "message (measured here: 10.7 -> 5.9 context switches per replicated write, "
              "commit latency -50 us at one client; see docs/PERFORMANCE.md)");
DEFINE_validator(grpc_poll_strategy, &ValidatePollStrategy);
DEFINE_int32(read_threads, -1, semisync::kReadThreadsFlagHelp);
DEFINE_int32(apply_batch_delay_us, 2000,
             "While events arrive in groups (the master group-committing concurrent writes), the "
             "applier begins a batch at most once per this many microseconds (sooner when 1000 "
             "events are waiting), so that a busy slave commits fewer, larger transactions to "
             "its database: on a 2-core machine shared with the master, +10-20 % insert "
             "throughput at 4 to 16 clients. Events arriving one by one are applied at once. "
             "Adds at most this much replication lag under load; 0 applies every event as soon "
             "as it is durable");
DEFINE_validator(apply_batch_delay_us, &ValidateApplyDelay);
DEFINE_int32(apply_unconfirmed_after_ms, 10000,
             "Events the master sent ahead of its own fsync are applied once it reports them "
             "durable; when nothing was heard from the master for this many milliseconds, they "
             "are applied anyway (they may be writes clients saw acknowledged). A master that "
             "comes back without them is then reported as diverged instead of followed");
DEFINE_validator(apply_unconfirmed_after_ms, &ValidatePositive);
DEFINE_int32(db_read_sessions, 16,
             "Database sessions kept open for reads (ListRecords, GetRecord, status); concurrent "
             "reads beyond this wait for a free one");

int main(int argc, char** argv) {
  semisync::InitProcess();
  gflags::SetUsageMessage("semisync slave: replicates a semisync master into a local database");
  FLAGS_logtostderr = true;  // default; --logtostderr=false --log_dir=DIR logs to files instead
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  // Before any gRPC object exists: gRPC reads it once, when it initialises.
  if (!FLAGS_grpc_poll_strategy.empty()) {
    setenv("GRPC_POLL_STRATEGY", FLAGS_grpc_poll_strategy.c_str(), /*overwrite=*/1);
  }

  if (FLAGS_reconnect_backoff_max_ms < FLAGS_reconnect_backoff_min_ms) {
    LOG(ERROR) << "--reconnect_backoff_max_ms (" << FLAGS_reconnect_backoff_max_ms
               << ") must be >= --reconnect_backoff_min_ms (" << FLAGS_reconnect_backoff_min_ms
               << ")";
    return 2;
  }
  const std::string who = absl::StrCat("slave ", FLAGS_id, ": ");
  if (absl::Status s = semisync::CheckReadThreadsFlag(FLAGS_read_threads); !s.ok()) {
    LOG(ERROR) << who << s.message();
    return 2;
  }
  const std::string data_dir =
      FLAGS_data_dir.empty() ? absl::StrCat("./data/", FLAGS_id) : FLAGS_data_dir;
  if (absl::Status s = semisync::MakeDirs(data_dir); !s.ok()) {
    LOG(ERROR) << who << "cannot create --data_dir: " << s;
    return 1;
  }
  semisync::StorageOptions storage_options;
  storage_options.connection =
      FLAGS_db.empty() ? absl::StrCat("sqlite3://db=", data_dir, "/slave.db") : FLAGS_db;
  storage_options.read_sessions = std::clamp(FLAGS_db_read_sessions, 1, 1024);
  FLAGS_rpc_threads = std::clamp(FLAGS_rpc_threads, 1, 64);
  // The relay log is the truth until the applier's SyncToDisk() before each purge.
  storage_options.sync_commits = false;
  absl::StatusOr<std::unique_ptr<semisync::Storage>> storage =
      semisync::Storage::Open(storage_options);
  if (!storage.ok()) {
    LOG(ERROR) << who << "cannot open database: " << storage.status();
    return 1;
  }

  semisync::SlaveOptions options;
  options.slave_id = FLAGS_id;
  options.master_address = FLAGS_master;
  options.advertise_address = FLAGS_advertise_address;
  options.data_dir = data_dir;
  options.relay_log_segment_bytes = FLAGS_relay_log_segment_bytes;
  options.semi_sync = FLAGS_semi_sync;
  options.stop_on_apply_error = FLAGS_stop_on_apply_error;
  options.reconnect_backoff_min = absl::Milliseconds(FLAGS_reconnect_backoff_min_ms);
  options.reconnect_backoff_max = absl::Milliseconds(FLAGS_reconnect_backoff_max_ms);
  options.heartbeat_timeout = absl::Milliseconds(FLAGS_heartbeat_timeout_ms);
  options.ack_interval = absl::Milliseconds(FLAGS_ack_interval_ms);
  options.apply_batch_delay = absl::Microseconds(FLAGS_apply_batch_delay_us);
  options.apply_unconfirmed_after = absl::Milliseconds(FLAGS_apply_unconfirmed_after_ms);
  absl::StatusOr<std::unique_ptr<semisync::Slave>> slave =
      semisync::Slave::Create(options, storage->get());
  if (!slave.ok()) {
    LOG(ERROR) << who << "cannot start: " << slave.status();
    return 1;
  }

  const std::string master = FLAGS_master;
  semisync::RecordsServiceImpl records_service(storage->get(), /*writer=*/nullptr,
                                               [master] { return master; });
  semisync::SlaveServiceImpl slave_service(slave->get());
  // Metrics: per-method RPC counts and latencies (an interceptor, so HTTP gateway calls count
  // too), and the replication state read from Slave::Status() at each scrape.
  semisync::metrics::Registry registry;
  semisync::metrics::RpcMetrics rpc_metrics(&registry);
  semisync::Slave* const sl = slave->get();
  semisync::metrics::AddSlaveCollector(&registry, [sl] { return sl->Status(); });

  semisync::EnableReflection();
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(rpc_metrics.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  int bound_port = 0;
  const std::string listen = absl::StrCat(FLAGS_bind_address, ":", FLAGS_grpc_port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound_port);
  semisync::ConfigureGrpcServer(&builder);
  semisync::AsyncRpcLoop rpc_loop(&builder, FLAGS_rpc_threads, "rpc");
  const int read_threads = semisync::ReadThreadsFor(FLAGS_read_threads, (*storage)->backend());
  std::unique_ptr<semisync::WorkerPool> read_pool;
  if (read_threads > 0) read_pool = std::make_unique<semisync::WorkerPool>(read_threads, "read");
  records_service.Register(&builder, &rpc_loop, read_pool.get());
  semisync::HealthService health_service;
  health_service.Register(&builder, &rpc_loop);
  builder.RegisterService(&slave_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    LOG(ERROR) << who << "cannot listen on " << listen;
    return 1;
  }
  rpc_loop.Start();
  // On every way out: the server stops, then the read pool and the loop drain while the server
  // still exists (server/async_rpc.h). The ordered shutdown at the end does both itself first.
  absl::Cleanup stop_rpc = [&server, &rpc_loop, &read_pool] {
    server->Shutdown();
    if (read_pool) read_pool->Shutdown();  // finishes the reads it holds
    rpc_loop.Shutdown();
  };
  // Until the watcher's first evaluation (after StartSync below): not replicating yet.
  health_service.SetServingStatus(semisync::kSlaveServiceName, false);
  LOG(INFO) << who << "serving gRPC on " << FLAGS_bind_address << ":" << bound_port
            << ", master " << master << ", data dir " << data_dir;
  semisync::gateway::HttpGatewayOptions http_options;
  http_options.bind_address = FLAGS_http_bind_address;
  http_options.port = FLAGS_http_port;
  http_options.log_name = absl::StrCat("slave ", FLAGS_id);
  auto http = std::make_unique<semisync::gateway::HttpGateway>(
      http_options, server.get(),
      std::vector<std::string>{"semisync.v1.RecordsService", "semisync.v1.SlaveService"});
  http->AddGetHandler("/metrics", [&registry] {
    return semisync::gateway::HttpResponse{200, semisync::metrics::kTextContentType,
                                           registry.RenderText()};
  });
  absl::StatusOr<int> http_port = http->Start();
  if (!http_port.ok()) {
    LOG(ERROR) << who << http_port.status();
    return 1;
  }

  (*slave)->SetAdvertiseAddress(FLAGS_advertise_address.empty()
                                    ? absl::StrCat("127.0.0.1:", bound_port)
                                    : FLAGS_advertise_address);
  if (absl::Status s = (*slave)->StartSync(); !s.ok()) {
    LOG(ERROR) << who << "cannot start replication: " << s;
    return 1;
  }
  // "semisync.v1.SlaveService" is SERVING only while replication runs (node_health.h).
  semisync::HealthWatcher health(
      &health_service, semisync::kSlaveServiceName,
      [sl](std::string* reason) { return semisync::SlaveReplicating(sl->Status(), reason); },
      absl::Milliseconds(FLAGS_health_check_interval_ms), absl::StrCat("slave ", FLAGS_id));
  health.Start();
  if (!FLAGS_port_file.empty()) {
    if (absl::Status s = semisync::WritePortFile(
            FLAGS_port_file, {{"grpc_port", bound_port}, {"http_port", *http_port}});
        !s.ok()) {
      LOG(ERROR) << who << "cannot write --port_file: " << s;
      return 1;
    }
  }

  const int sig = semisync::WaitForTerminationSignal();
  LOG(INFO) << who << "signal " << sig << " received; shutting down";
  health.Stop();
  health_service.Shutdown();  // every service NOT_SERVING from now on
  http->BeginShutdown();  // new HTTP requests get 503, the HTTP port closes
  const absl::Time deadline = absl::Now() + absl::Milliseconds(FLAGS_shutdown_grace_ms);
  server->Shutdown(absl::ToChronoTime(deadline));
  http->Shutdown(deadline);
  http.reset();  // before the grpc::Server it calls into
  if (read_pool) read_pool->Shutdown();  // every read has been answered
  rpc_loop.Shutdown();
  (*slave)->Shutdown();
  slave->reset();
  storage->reset();
  LOG(INFO) << who << "stopped";
  google::FlushLogFiles(google::GLOG_INFO);
  return 0;
}
