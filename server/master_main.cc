// semisync_master: the master node. Serves RecordsService (reads and writes) and
// ReplicationService on one gRPC port (default 50051), plus gRPC health and reflection, and the
// same API as HTTP/JSON (default 8080) with GET /metrics (docs/operations.md).
// Run with no flags for an embedded SQLite database under ./data/master.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/async_rpc.h"
#include "server/gateway/http_gateway.h"
#include "server/health_service.h"
#include "server/master/master.h"
#include "server/metrics/metrics.h"
#include "server/metrics/node_metrics.h"
#include "server/metrics/rpc_metrics.h"
#include "server/node_health.h"
#include "server/process_util.h"

DEFINE_int32(grpc_port, 50051, "gRPC port to listen on; 0 picks a free port (see --port_file)");
DEFINE_string(bind_address, "0.0.0.0", "Address to listen on");
DEFINE_int32(http_port, 8080,
             "HTTP/JSON gateway port (docs/http_gateway.md); 0 picks a free port (see --port_file)");
DEFINE_string(http_bind_address, "0.0.0.0", "Address the HTTP/JSON gateway listens on");
DEFINE_string(port_file, "",
              "If set, once serving, write the bound ports here as key=value lines "
              "(grpc_port=N, http_port=N), atomically");
DEFINE_string(data_dir, "./data/master",
              "Directory for the binlog, the server uuid and (by default) the SQLite database");
DEFINE_string(db, "",
              "Database connection: empty for SQLite at <data_dir>/master.db, or "
              "'mysql://host=H port=P db=D user=U password=W' for MySQL/MariaDB");
DEFINE_bool(semi_sync_enabled, true,
            "rpl_semi_sync_master_enabled: wait for slave acknowledgement before a write completes");
DEFINE_uint64(semi_sync_timeout_ms, 10000,
              "rpl_semi_sync_master_timeout: milliseconds to wait for acks before switching to "
              "asynchronous replication");
DEFINE_uint32(semi_sync_wait_for_slave_count, 1,
              "rpl_semi_sync_master_wait_for_slave_count: distinct slaves that must acknowledge");
DEFINE_bool(semi_sync_wait_no_slave, true,
            "rpl_semi_sync_master_wait_no_slave: keep waiting (until the timeout) even when fewer "
            "than wait_for_slave_count semi-sync slaves are connected; false switches semi-sync "
            "OFF as soon as too few are connected");
DEFINE_string(semi_sync_wait_point, "AFTER_SYNC",
              "rpl_semi_sync_master_wait_point: AFTER_SYNC (lossless: the database commit and the "
              "client's answer come after the acks) or AFTER_COMMIT");
DEFINE_uint64(binlog_segment_bytes, 64ull << 20, "Rotate binlog segment files at this size, bytes");
DEFINE_uint64(binlog_retention_bytes, 0,
              "Purge the oldest binlog segments while the binlog is larger than this, bytes "
              "(0: no size limit)");
DEFINE_uint64(binlog_retention_hours, 0,
              "Purge binlog segments older than this many hours (0: no age limit)");
DEFINE_uint64(binlog_purge_check_interval_ms, 10000,
              "Milliseconds between checks of the binlog retention limits");
DEFINE_uint64(heartbeat_period_ms, 1000,
              "Milliseconds between heartbeats on an idle binlog stream");
DEFINE_bool(send_before_fsync_when_idle, true,
            "When no earlier write is still waiting for its acks, send a write's binlog group to "
            "the slaves right after writing it and before fsyncing it, so the master's fsync "
            "overlaps the slaves' (lower latency at low concurrency). Slaves apply such events "
            "only once the master reports them durable, and drop them if it lost them; a client "
            "is still answered only after both fsyncs");
DEFINE_bool(rpc_thread_sends_idle_insert, true,
            "With --send_before_fsync_when_idle: an insert that reaches an idle master is "
            "written to the binlog and sent to the slaves by the RPC thread that received it, "
            "rather than after waking the committer thread (which still does the fsync)");
DEFINE_uint64(shutdown_grace_ms, 500,
              "Milliseconds in-flight RPCs get to finish on SIGTERM/SIGINT before cancellation");
DEFINE_int32(rpc_threads, 1,
             "Threads serving the record writes, slave acks and health checks, and the record "
             "reads unless --read_threads gives them their own (gRPC completion-queue API, one "
             "queue each). More than 1 costs writes here: 16-client inserts on MariaDB storage "
             "lost 25% with 4");
DEFINE_int32(read_threads, -1, semisync::kReadThreadsFlagHelp);
DEFINE_int32(db_read_sessions, 16,
             "Database sessions kept open for reads (ListRecords, GetRecord, status); concurrent "
             "reads beyond this wait for a free one");

namespace semisync {
namespace {

absl::StatusOr<MasterOptions> OptionsFromFlags() {
  MasterOptions o;
  o.data_dir = FLAGS_data_dir;
  o.db = FLAGS_db;
  if (FLAGS_rpc_threads < 1 || FLAGS_rpc_threads > 64) {
    return absl::InvalidArgumentError("--rpc_threads must be between 1 and 64");
  }
  if (absl::Status s = CheckReadThreadsFlag(FLAGS_read_threads); !s.ok()) return s;
  if (FLAGS_db_read_sessions < 1 || FLAGS_db_read_sessions > 1024) {
    return absl::InvalidArgumentError("--db_read_sessions must be 1..1024");
  }
  o.read_sessions = FLAGS_db_read_sessions;
  o.semi_sync.enabled = FLAGS_semi_sync_enabled;
  o.semi_sync.timeout = absl::Milliseconds(FLAGS_semi_sync_timeout_ms);
  if (FLAGS_semi_sync_wait_for_slave_count < 1 || FLAGS_semi_sync_wait_for_slave_count > 65535) {
    return absl::InvalidArgumentError("--semi_sync_wait_for_slave_count must be 1..65535");
  }
  o.semi_sync.wait_for_slave_count = FLAGS_semi_sync_wait_for_slave_count;
  o.semi_sync.wait_no_slave = FLAGS_semi_sync_wait_no_slave;
  std::string wp = absl::AsciiStrToUpper(FLAGS_semi_sync_wait_point);
  if (wp == "AFTER_SYNC") {
    o.semi_sync.wait_point = WaitPoint::kAfterSync;
  } else if (wp == "AFTER_COMMIT") {
    o.semi_sync.wait_point = WaitPoint::kAfterCommit;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--semi_sync_wait_point must be AFTER_SYNC or AFTER_COMMIT, got '", FLAGS_semi_sync_wait_point, "'"));
  }
  if (FLAGS_binlog_segment_bytes < 4096) {
    return absl::InvalidArgumentError("--binlog_segment_bytes must be at least 4096");
  }
  o.binlog_segment_bytes = FLAGS_binlog_segment_bytes;
  o.binlog_retention_bytes = FLAGS_binlog_retention_bytes;
  o.binlog_retention_age = absl::Hours(FLAGS_binlog_retention_hours);
  if (FLAGS_binlog_purge_check_interval_ms == 0) {
    return absl::InvalidArgumentError("--binlog_purge_check_interval_ms must be positive");
  }
  o.binlog_purge_check_interval = absl::Milliseconds(FLAGS_binlog_purge_check_interval_ms);
  if (FLAGS_heartbeat_period_ms == 0) {
    return absl::InvalidArgumentError("--heartbeat_period_ms must be positive");
  }
  o.heartbeat_period = absl::Milliseconds(FLAGS_heartbeat_period_ms);
  o.send_before_fsync_when_idle = FLAGS_send_before_fsync_when_idle;
  o.rpc_thread_sends_idle_insert = FLAGS_rpc_thread_sends_idle_insert;
  return o;
}

int Run() {
  absl::StatusOr<MasterOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    LOG(ERROR) << options.status().message();
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Master>> master = Master::Open(*options);
  if (!master.ok()) {
    LOG(ERROR) << "master failed to start: " << master.status();
    return 1;
  }
  // Metrics: per-method RPC counts and latencies (an interceptor, so HTTP gateway calls count
  // too), and the replication state read from Master::Status() at each scrape.
  metrics::Registry registry;
  metrics::RpcMetrics rpc_metrics(&registry);
  Master* const m = master->get();
  metrics::AddMasterCollector(&registry, [m] { return m->Status(); });

  EnableReflection();
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(rpc_metrics.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(FLAGS_bind_address, ":", FLAGS_grpc_port),
                           grpc::InsecureServerCredentials(), &bound_port);
  ConfigureGrpcServer(&builder);
  AsyncRpcLoop rpc_loop(&builder, FLAGS_rpc_threads, "rpc");
  const int read_threads = ReadThreadsFor(FLAGS_read_threads, (*master)->storage_backend());
  std::unique_ptr<WorkerPool> read_pool;
  if (read_threads > 0) read_pool = std::make_unique<WorkerPool>(read_threads, "read");
  (*master)->RegisterServices(&builder, &rpc_loop, read_pool.get());
  HealthService health;
  health.Register(&builder, &rpc_loop);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    LOG(ERROR) << "master failed to listen on " << FLAGS_bind_address << ":" << FLAGS_grpc_port;
    (*master)->BeginShutdown();
    (*master)->FinishShutdown();
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
  health.SetServingStatus(kReplicationServiceName, true);
  LOG(INFO) << "master " << (*master)->server_uuid() << ": serving gRPC on "
            << FLAGS_bind_address << ":" << bound_port;
  gateway::HttpGatewayOptions http_options;
  http_options.bind_address = FLAGS_http_bind_address;
  http_options.port = FLAGS_http_port;
  http_options.log_name = absl::StrCat("master ", (*master)->server_uuid());
  auto http = std::make_unique<gateway::HttpGateway>(
      http_options, server.get(),
      std::vector<std::string>{"semisync.v1.RecordsService", "semisync.v1.ReplicationService"});
  http->AddGetHandler("/metrics", [&registry] {
    return gateway::HttpResponse{200, metrics::kTextContentType, registry.RenderText()};
  });
  absl::StatusOr<int> http_port = http->Start();
  if (!http_port.ok()) {
    LOG(ERROR) << "master " << (*master)->server_uuid() << ": " << http_port.status();
    http.reset();
    (*master)->BeginShutdown();
    server->Shutdown();
    (*master)->FinishShutdown();
    return 1;
  }
  if (!FLAGS_port_file.empty()) {
    absl::Status s =
        WritePortFile(FLAGS_port_file, {{"grpc_port", bound_port}, {"http_port", *http_port}});
    if (!s.ok()) LOG(ERROR) << "cannot write --port_file: " << s;
  }

  int sig = WaitForTerminationSignal();
  LOG(INFO) << "master " << (*master)->server_uuid() << ": signal " << sig
            << ", shutting down";
  health.Shutdown();
  http->BeginShutdown();  // new HTTP requests get 503, HTTP streams end, the HTTP port closes
  (*master)->BeginShutdown();
  const absl::Time deadline = absl::Now() + absl::Milliseconds(FLAGS_shutdown_grace_ms);
  server->Shutdown(absl::ToChronoTime(deadline));
  http->Shutdown(deadline);  // HTTP requests in flight have finished or were cancelled
  http.reset();              // before the grpc::Server it calls into
  (*master)->FinishShutdown();
  if (read_pool) read_pool->Shutdown();  // every read has been answered
  rpc_loop.Shutdown();  // every write has been answered: drain the queues
  master->reset();
  google::FlushLogFiles(google::GLOG_INFO);
  return 0;
}

}  // namespace
}  // namespace semisync

int main(int argc, char** argv) {
  semisync::InitProcess();
  gflags::SetUsageMessage(
      "semisync master: records CRUD and semi-synchronous binlog replication over gRPC");
  FLAGS_logtostderr = true;  // default; --logtostderr=false --log_dir=DIR logs to files instead
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  return semisync::Run();
}
