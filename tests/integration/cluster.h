// Cluster: a multi-process test fixture (after Kudu's ExternalMiniCluster). Each node is a real
// semisync_master or semisync_slave process on 127.0.0.1, started with --grpc_port=0 and
// --port_file, that a test can kill (-9), pause (SIGSTOP), resume, terminate and restart.
//
//   Cluster cluster(ClusterOptions{.backend = Backend::kSqlite});
//   Node* master = cluster.StartMaster({"--semi_sync_timeout_ms=1000"}).value();
//   Node* slave = cluster.StartSlave("slave1").value();
//   auto write = CreateRecord(*master, "hello");               // StatusOr<RecordWriteResponse>
//   ASSERT_TRUE(cluster.WaitForSlaveCaughtUp(*slave));
//   ASSERT_TRUE(Eventually([&] { ... return absl::OkStatus(); }, absl::Seconds(30), "what"));
//
// Layout: every Cluster owns a fresh temp dir (one per test) holding, per node, `<name>/data`
// (--data_dir), `<name>.port` (--port_file) and `<name>.log` (stdout and stderr of every run of the
// node, appended, each run preceded by a "==== start" line with its command line). With the
// "mariadb" backend each node also gets its own database on the test server
// (tests/test_util/mariadb.h); with "sqlite" --db is "" (SQLite in the data dir).
//
// Processes: fork + execv, each child in its own process group (signals go to the group), with
// PR_SET_PDEATHSIG=SIGKILL so that a crashing or killed test binary leaves nothing behind. Start
// and Restart return once the port file exists AND a GetStatus RPC succeeds (30 s by default); on
// failure the Status carries the tail of the node's log. The destructor SIGKILLs and reaps every
// child; before that, Shutdown() reports (ADD_FAILURE) nodes that died on their own, and on a
// failed test prints every node's log tail and keeps the temp dir (and databases).
//
// Binaries: $SEMISYNC_MASTER_BIN / $SEMISYNC_SLAVE_BIN, else the paths compiled in as
// SEMISYNC_MASTER_BIN / SEMISYNC_SLAVE_BIN.
//
// Thread-safety: Cluster and Node are driven from the test's main thread (process control is not
// thread-safe, and Start/Restart must run on the thread that will outlive the child: see
// PR_SET_PDEATHSIG). The RPC helpers and the stubs (shared_ptr, usable after a Restart replaced
// them) are thread-safe: writer threads may use them while the main thread kills or stops nodes.
#ifndef SEMISYNC_TESTS_INTEGRATION_CLUSTER_H_
#define SEMISYNC_TESTS_INTEGRATION_CLUSTER_H_

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.grpc.pb.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "semisync/v1/slave.grpc.pb.h"

namespace semisync {
namespace integration {

enum class Backend { kSqlite, kMariaDb };
// "sqlite" / "mariadb" (also the test-name suffix of parameterised tests).
std::string BackendName(Backend backend);
void PrintTo(Backend backend, std::ostream* os);

struct ClusterOptions {
  Backend backend = Backend::kSqlite;
  // Flags every master / slave gets before the per-node extra flags (later flags win in gflags).
  std::vector<std::string> master_default_flags = {"--heartbeat_period_ms=200"};
  std::vector<std::string> slave_default_flags = {"--heartbeat_timeout_ms=2000"};
  // How long Start/Restart wait for a node to serve.
  absl::Duration start_timeout = absl::Seconds(30);
  // How long Terminate waits after SIGTERM before SIGKILL.
  absl::Duration terminate_timeout = absl::Seconds(20);
};

enum class Role { kMaster, kSlave };

// One node: a master or slave process (or its remains between a Kill and a Restart).
class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  Role role() const { return role_; }
  // "master" or the slave id.
  const std::string& name() const { return name_; }
  // Pid of the current run, -1 when not running (killed, terminated, or exited and reaped).
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  // The gRPC port of the current (or last) run; "127.0.0.1:port".
  int port() const { return port_; }
  std::string address() const;
  // The HTTP/JSON gateway port of the current run (127.0.0.1, from the port file's http_port).
  int http_port() const { return http_port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& db() const { return db_; }
  const std::string& log_path() const { return log_path_; }
  // The last `lines` lines of the node's log (all runs).
  std::string LogTail(int lines = 40) const;

  // Stubs on a channel to the current run. Replaced by Restart; copies stay valid (they point at
  // the old address). replication(): master only; control(): slave only (nullptr otherwise).
  std::shared_ptr<v1::RecordsService::Stub> records() const { return records_; }
  std::shared_ptr<v1::ReplicationService::Stub> replication() const { return replication_; }
  std::shared_ptr<v1::SlaveService::Stub> control() const { return control_; }

 private:
  friend class Cluster;
  Node(Role role, std::string name, std::string binary, std::string data_dir, std::string port_file,
       std::string log_path, std::string db, std::vector<std::string> flags);

  // Starts one run with --grpc_port=grpc_port and waits until it serves.
  absl::Status Start(int grpc_port, absl::Duration timeout);
  absl::Status WaitUntilServing(absl::Time deadline);
  // Whether the node serves a GetStatus RPC now.
  absl::Status Probe(absl::Duration rpc_timeout) const;
  void MakeStubs();
  // Non-blocking: reaps the child if it exited; returns its wait status then.
  std::optional<int> PollExit();
  // Blocking reap after the child was sent a fatal signal.
  int Reap();
  void SignalGroup(int sig) const;

  const Role role_;
  const std::string name_;
  const std::string binary_;
  const std::string data_dir_;
  const std::string port_file_;
  const std::string log_path_;
  const std::string db_;
  const std::vector<std::string> flags_;  // defaults + extra flags, fixed for the node's lifetime

  pid_t pid_ = -1;
  bool paused_ = false;
  int port_ = 0;
  int http_port_ = 0;
  int runs_ = 0;
  // Wait status of a run that ended without Kill/Terminate (reported by Cluster::Shutdown).
  std::optional<int> unexpected_exit_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<v1::RecordsService::Stub> records_;
  std::shared_ptr<v1::ReplicationService::Stub> replication_;
  std::shared_ptr<v1::SlaveService::Stub> control_;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  // Shutdown(), then SIGKILL and reap every child.
  ~Cluster();

  // Starts the (single) master with port 0. `extra_flags` are kept for restarts.
  absl::StatusOr<Node*> StartMaster(std::vector<std::string> extra_flags = {});
  // Starts slave `id` with --master=<master address>. Needs a started master.
  absl::StatusOr<Node*> StartSlave(const std::string& id,
                                   std::vector<std::string> extra_flags = {});

  // SIGKILL (or `sig`) to the node's process group, then waitpid. A paused node is killed too.
  absl::Status Kill(Node& node, int sig = SIGKILL);
  // SIGSTOP, and waits until the process is stopped.
  absl::Status Pause(Node& node);
  // SIGCONT.
  absl::Status Resume(Node& node);
  // SIGTERM (plus SIGCONT if paused), waits up to options.terminate_timeout for the exit and
  // returns its wait status; on timeout SIGKILLs, reaps and returns DeadlineExceeded.
  absl::StatusOr<int> Terminate(Node& node);
  // Starts the node again (it must not be running) with the same data dir, database and flags.
  // The master comes back on its previous port (retried briefly while the port is still bound) so
  // that running slaves reconnect by themselves; a slave gets a fresh port.
  absl::Status Restart(Node& node);

  Node* master() const { return master_; }
  // Slave by id; nullptr when there is none.
  Node* slave(const std::string& id) const;
  std::vector<Node*> slaves() const;
  const std::string& temp_dir() const { return temp_dir_; }
  const ClusterOptions& options() const { return options_; }

  // Eventually: `slave` executed everything in the master's binlog (executed_position ==
  // master binlog_end_position and retrieved_position == executed_position).
  ::testing::AssertionResult WaitForSlaveCaughtUp(const Node& slave,
                                                  absl::Duration timeout = absl::Seconds(60));

  // Reports (ADD_FAILURE) nodes that exited on their own; on a failed test prints every node's log
  // tail and keeps the temp dir, otherwise removes it (and the MariaDB databases). Idempotent;
  // called by the destructor.
  void Shutdown();

 private:
  absl::StatusOr<Node*> AddNode(Role role, const std::string& name, const std::string& binary,
                                std::vector<std::string> flags);
  std::string DbFor(const std::string& node_name);

  const ClusterOptions options_;
  std::string temp_dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::string> mariadb_databases_;
  Node* master_ = nullptr;
  bool shut_down_ = false;
};

// ---------------------------------------------------------------------------------------------
// RPC helpers (thread-safe). Every call has a deadline (`rpc_timeout`); gRPC errors become
// absl::Status with the same code and message.

inline constexpr absl::Duration kDefaultRpcTimeout = absl::Seconds(30);

absl::Status FromGrpc(const grpc::Status& status);

absl::StatusOr<v1::RecordWriteResponse> CreateRecord(
    const Node& node, const std::string& content, absl::Duration rpc_timeout = kDefaultRpcTimeout);
absl::StatusOr<v1::RecordWriteResponse> UpdateRecord(
    const Node& node, int64_t id, const std::string& content,
    absl::Duration rpc_timeout = kDefaultRpcTimeout);
absl::StatusOr<v1::DeleteRecordResponse> DeleteRecord(
    const Node& node, int64_t id, absl::Duration rpc_timeout = kDefaultRpcTimeout);
absl::StatusOr<v1::Record> GetRecord(const Node& node, int64_t id,
                                     absl::Duration rpc_timeout = kDefaultRpcTimeout);
// Every record, paging through ListRecords `page_size` at a time (ids must grow page to page).
absl::StatusOr<std::vector<v1::Record>> ListAllRecords(const Node& node, int page_size = 100);
absl::StatusOr<v1::MasterStatus> GetMasterStatus(const Node& master,
                                                 absl::Duration rpc_timeout = kDefaultRpcTimeout);
absl::StatusOr<v1::SlaveStatus> GetSlaveStatus(const Node& slave,
                                               absl::Duration rpc_timeout = kDefaultRpcTimeout);
absl::StatusOr<v1::SlaveStatus> StopSync(const Node& slave);
absl::StatusOr<v1::SlaveStatus> StartSync(const Node& slave);

// Equal when both lists hold the same records (all fields) in the same order; otherwise the
// failure names the first difference and the sizes.
::testing::AssertionResult SameRecords(const std::vector<v1::Record>& expected,
                                       const std::vector<v1::Record>& actual);
// Reads every record of both nodes and compares them with SameRecords.
::testing::AssertionResult SameRows(const Node& expected, const Node& actual);

// ---------------------------------------------------------------------------------------------
// Eventually: polls `condition` (first at once, then every 20..200 ms) until it holds or `timeout`
// passes. `condition` returns bool or absl::Status (OK = holds; the last error is quoted in the
// failure). Use as ASSERT_TRUE(Eventually(..., absl::Seconds(30), "slave1 catches up")).
::testing::AssertionResult EventuallyImpl(const std::function<absl::Status()>& condition,
                                          absl::Duration timeout, absl::string_view description);

template <typename Condition>
::testing::AssertionResult Eventually(Condition&& condition, absl::Duration timeout,
                                      absl::string_view description) {
  using Result = std::invoke_result_t<Condition&>;
  if constexpr (std::is_same_v<Result, bool>) {
    return EventuallyImpl(
        [&condition]() {
          return condition() ? absl::OkStatus() : absl::UnavailableError("condition false");
        },
        timeout, description);
  } else {
    static_assert(std::is_same_v<Result, absl::Status>,
                  "Eventually's condition must return bool or absl::Status");
    return EventuallyImpl([&condition]() { return condition(); }, timeout, description);
  }
}

// Consistently: `condition` holds at every poll (every 50 ms) for `duration`; fails at the first
// poll where it does not. For "X stays true while Y happens" (e.g. a slave stays connected through
// an idle period longer than its heartbeat timeout).
::testing::AssertionResult ConsistentlyImpl(const std::function<absl::Status()>& condition,
                                            absl::Duration duration, absl::string_view description);

template <typename Condition>
::testing::AssertionResult Consistently(Condition&& condition, absl::Duration duration,
                                        absl::string_view description) {
  using Result = std::invoke_result_t<Condition&>;
  if constexpr (std::is_same_v<Result, bool>) {
    return ConsistentlyImpl(
        [&condition]() {
          return condition() ? absl::OkStatus() : absl::FailedPreconditionError("condition false");
        },
        duration, description);
  } else {
    static_assert(std::is_same_v<Result, absl::Status>,
                  "Consistently's condition must return bool or absl::Status");
    return ConsistentlyImpl([&condition]() { return condition(); }, duration, description);
  }
}

}  // namespace integration
}  // namespace semisync

// ASSERT_OK(expr) / EXPECT_OK(expr) for absl::Status and absl::StatusOr.
#define SEMISYNC_IT_STATUS_OF(expr) ::semisync::integration::internal::StatusOf(expr)
#define ASSERT_OK(expr)                                            \
  do {                                                             \
    const ::absl::Status _it_status = SEMISYNC_IT_STATUS_OF(expr); \
    ASSERT_TRUE(_it_status.ok()) << #expr << ": " << _it_status;   \
  } while (0)
#define EXPECT_OK(expr)                                            \
  do {                                                             \
    const ::absl::Status _it_status = SEMISYNC_IT_STATUS_OF(expr); \
    EXPECT_TRUE(_it_status.ok()) << #expr << ": " << _it_status;   \
  } while (0)
// ASSERT_OK_AND_ASSIGN(lhs, statusor_expr): lhs = value, or a fatal failure with the status.
#define SEMISYNC_IT_CONCAT_INNER(a, b) a##b
#define SEMISYNC_IT_CONCAT(a, b) SEMISYNC_IT_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(SEMISYNC_IT_CONCAT(_it_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr)         \
  auto var = (expr);                                      \
  ASSERT_TRUE(var.ok()) << #expr << ": " << var.status(); \
  lhs = std::move(var).value()

namespace semisync {
namespace integration {
namespace internal {
inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
}  // namespace internal
}  // namespace integration
}  // namespace semisync

#endif  // SEMISYNC_TESTS_INTEGRATION_CLUSTER_H_
