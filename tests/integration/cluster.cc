// Cluster: see cluster.h.
#include "tests/integration/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/grpc.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "tests/test_util/mariadb.h"

extern char** environ;

namespace semisync {
namespace integration {
namespace {

#ifndef SEMISYNC_MASTER_BIN
#define SEMISYNC_MASTER_BIN ""
#endif
#ifndef SEMISYNC_SLAVE_BIN
#define SEMISYNC_SLAVE_BIN ""
#endif

constexpr char kLoopback[] = "127.0.0.1";
// Probe RPCs while a node starts.
constexpr absl::Duration kProbeTimeout = absl::Seconds(1);
// How often Start polls for the port file and Terminate for the exit.
constexpr absl::Duration kStartPoll = absl::Milliseconds(20);
// A master restarted on its old port: how long to wait for the port to be bindable, and how many
// times to start again when the new process still fails to bind.
constexpr absl::Duration kPortFreeTimeout = absl::Seconds(10);
constexpr int kPinnedPortAttempts = 5;

std::string BinaryPath(const char* env, const char* compiled) {
  const char* value = getenv(env);
  if (value != nullptr && *value != '\0') return value;
  return compiled;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)),
                        ")", WCOREDUMP(status) ? ", core dumped" : "");
  }
  return absl::StrCat("wait status ", status);
}

std::string CurrentTestName() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "no_test";
  return absl::StrCat(info->test_suite_name(), ".", info->name());
}

// Parses the port file ("key=value" lines); 0 when absent, incomplete or without `key`.
int ReadPort(const std::string& path, absl::string_view key) {
  std::ifstream in(path);
  if (!in) return 0;
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    int port = 0;
    if (absl::StripAsciiWhitespace(kv.first) == key &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(kv.second), &port) && port > 0 &&
        port < 65536) {
      return port;
    }
  }
  return 0;
}

// Whether 127.0.0.1:port can be bound now (with SO_REUSEADDR, as gRPC binds).
bool PortBindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, kLoopback, &addr.sin_addr);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

}  // namespace

std::string BackendName(Backend backend) {
  switch (backend) {
    case Backend::kSqlite:
      return "sqlite";
    case Backend::kMariaDb:
      return "mariadb";
  }
  return "unknown";
}

void PrintTo(Backend backend, std::ostream* os) { *os << BackendName(backend); }

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// ---------------------------------------------------------------------------------------------
// Node

Node::Node(Role role, std::string name, std::string binary, std::string data_dir,
           std::string port_file, std::string log_path, std::string db,
           std::vector<std::string> flags)
    : role_(role),
      name_(std::move(name)),
      binary_(std::move(binary)),
      data_dir_(std::move(data_dir)),
      port_file_(std::move(port_file)),
      log_path_(std::move(log_path)),
      db_(std::move(db)),
      flags_(std::move(flags)) {}

Node::~Node() {
  if (running()) {
    SignalGroup(SIGKILL);
    Reap();
  }
}

std::string Node::address() const { return absl::StrCat(kLoopback, ":", port_); }

std::string Node::LogTail(int lines) const {
  constexpr std::streamoff kMaxBytes = 256 * 1024;
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return absl::StrCat("(no log at ", log_path_, ")");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kMaxBytes));
  std::stringstream buf;
  buf << in.rdbuf();
  std::vector<std::string> all = absl::StrSplit(buf.str(), '\n');
  if (!all.empty() && all.back().empty()) all.pop_back();
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  std::vector<std::string> tail(all.begin() + from, all.end());
  return absl::StrCat("---- last ", tail.size(), " lines of ", log_path_, " ----\n",
                      absl::StrJoin(tail, "\n"), "\n---- end of ", name_, " log ----");
}

void Node::SignalGroup(int sig) const {
  if (pid_ > 0) kill(-pid_, sig);
}

std::optional<int> Node::PollExit() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    paused_ = false;
    return status;
  }
  return std::nullopt;
}

int Node::Reap() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  paused_ = false;
  return status;
}

void Node::MakeStubs() {
  grpc::ChannelArguments args;
  // A private subchannel per channel: a new channel to a restarted node must not inherit the old
  // run's connection backoff.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  records_ = std::shared_ptr<v1::RecordsService::Stub>(v1::RecordsService::NewStub(channel_));
  if (role_ == Role::kMaster) {
    replication_ =
        std::shared_ptr<v1::ReplicationService::Stub>(v1::ReplicationService::NewStub(channel_));
  } else {
    control_ = std::shared_ptr<v1::SlaveService::Stub>(v1::SlaveService::NewStub(channel_));
  }
}

absl::Status Node::Probe(absl::Duration rpc_timeout) const {
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(rpc_timeout));
  if (role_ == Role::kMaster) {
    v1::MasterStatus status;
    return FromGrpc(replication_->GetStatus(&ctx, v1::GetMasterStatusRequest(), &status));
  }
  v1::SlaveStatus status;
  return FromGrpc(control_->GetStatus(&ctx, v1::GetSlaveStatusRequest(), &status));
}

absl::Status Node::Start(int grpc_port, absl::Duration timeout) {
  if (running()) return absl::FailedPreconditionError(absl::StrCat(name_, " is already running"));
  if (binary_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no binary for ", name_, ": set SEMISYNC_MASTER_BIN / SEMISYNC_SLAVE_BIN"));
  }
  if (access(binary_.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": binary ", binary_, " is not executable: ", strerror(errno)));
  }
  unlink(port_file_.c_str());

  // Everything the child needs is built before fork (no allocation between fork and exec).
  std::vector<std::string> args = {
      binary_, absl::StrCat("--bind_address=", kLoopback),
      absl::StrCat("--http_bind_address=", kLoopback), "--http_port=0",
      absl::StrCat("--port_file=", port_file_), absl::StrCat("--data_dir=", data_dir_),
      absl::StrCat("--db=", db_)};
  args.insert(args.end(), flags_.begin(), flags_.end());
  args.push_back(absl::StrCat("--grpc_port=", grpc_port));  // last: wins over any extra flag
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings;
  bool has_glog_stderr = false;
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, "GLOG_logtostderr=")) has_glog_stderr = true;
    env_strings.push_back(*e);
  }
  if (!has_glog_stderr) env_strings.push_back("GLOG_logtostderr=1");
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("open ", log_path_, ": ", strerror(errno)));
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("open /dev/null: ", strerror(errno)));
  }
  ++runs_;
  std::string header =
      absl::StrCat("==== start #", runs_, " of ", name_, " at ", absl::FormatTime(absl::Now()),
                   ": ", absl::StrJoin(args, " "), "\n");
  if (write(log_fd, header.data(), header.size()) < 0) {
    // The log is only for diagnosis; carry on.
  }

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(log_fd);
    close(null_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(err)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test died before prctl took effect
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);
    execve(argv[0], argv.data(), envp.data());
    static const char kMsg[] = "cluster: execve failed\n";
    if (write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1) < 0) {
    }
    _exit(127);
  }
  setpgid(pid, pid);  // also in the parent, so that signals to the group work at once
  close(log_fd);
  close(null_fd);
  pid_ = pid;
  paused_ = false;
  port_ = 0;
  http_port_ = 0;
  return WaitUntilServing(absl::Now() + timeout);
}

absl::Status Node::WaitUntilServing(absl::Time deadline) {
  absl::Status last = absl::UnavailableError("no port file yet");
  while (true) {
    if (std::optional<int> exit = PollExit()) {
      return absl::UnavailableError(absl::StrCat(name_, " exited while starting (",
                                                 DescribeWaitStatus(*exit), ")\n", LogTail()));
    }
    if (port_ == 0) {
      port_ = ReadPort(port_file_, "grpc_port");
      if (port_ != 0) {
        http_port_ = ReadPort(port_file_, "http_port");  // written together with grpc_port
        MakeStubs();
      }
    }
    if (port_ != 0) {
      last = Probe(kProbeTimeout);
      if (last.ok()) return absl::OkStatus();
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(kStartPoll);
  }
  std::string what = port_ == 0
                         ? absl::StrCat("no port file ", port_file_)
                         : absl::StrCat("GetStatus on ", address(), " failed: ", last.ToString());
  SignalGroup(SIGKILL);
  Reap();
  return absl::DeadlineExceededError(
      absl::StrCat(name_, " did not serve in time (", what, "); killed it\n", LogTail()));
}

// ---------------------------------------------------------------------------------------------
// Cluster

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  temp_dir_ = test_util::MakeTempDir(absl::StrCat("it_", CurrentTestName()));
}

Cluster::~Cluster() {
  Shutdown();
  nodes_.clear();  // Node's destructor kills whatever still runs
}

std::string Cluster::DbFor(const std::string& node_name) {
  return test_util::UniqueTestName(absl::StrCat(node_name, "_", CurrentTestName()));
}

absl::StatusOr<Node*> Cluster::AddNode(Role role, const std::string& name,
                                       const std::string& binary, std::vector<std::string> flags) {
  if (shut_down_) return absl::FailedPreconditionError("cluster is shut down");
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("bad node name \"", name, "\""));
  }
  for (const auto& n : nodes_) {
    if (n->name() == name) {
      return absl::AlreadyExistsError(absl::StrCat("node ", name, " already exists"));
    }
  }
  std::string db;
  if (options_.backend == Backend::kMariaDb) {
    std::string db_name = DbFor(name);
    absl::StatusOr<std::string> conn = test_util::MariaDbConnectionForTest(db_name);
    if (!conn.ok()) return conn.status();
    db = *conn;
    mariadb_databases_.push_back(db_name);
  }
  const std::string base = absl::StrCat(temp_dir_, "/", name);
  std::error_code ec;
  std::filesystem::create_directories(base + "/data", ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", base, "/data: ", ec.message()));
  auto node = std::unique_ptr<Node>(new Node(role, name, binary, base + "/data", base + ".port",
                                             base + ".log", db, std::move(flags)));
  Node* raw = node.get();
  nodes_.push_back(std::move(node));
  absl::Status started = raw->Start(/*grpc_port=*/0, options_.start_timeout);
  if (!started.ok()) return started;
  return raw;
}

absl::StatusOr<Node*> Cluster::StartMaster(std::vector<std::string> extra_flags) {
  if (master_ != nullptr) return absl::AlreadyExistsError("the cluster already has a master");
  std::vector<std::string> flags = options_.master_default_flags;
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<Node*> node =
      AddNode(Role::kMaster, "master", BinaryPath("SEMISYNC_MASTER_BIN", SEMISYNC_MASTER_BIN),
              std::move(flags));
  if (!nodes_.empty() && nodes_.back()->name() == "master") master_ = nodes_.back().get();
  return node;
}

absl::StatusOr<Node*> Cluster::StartSlave(const std::string& id,
                                          std::vector<std::string> extra_flags) {
  if (master_ == nullptr || master_->port() == 0) {
    return absl::FailedPreconditionError("start the master before slaves");
  }
  if (id == "master") return absl::InvalidArgumentError("a slave cannot be called \"master\"");
  std::vector<std::string> flags = {absl::StrCat("--id=", id),
                                    absl::StrCat("--master=", master_->address())};
  flags.insert(flags.end(), options_.slave_default_flags.begin(),
               options_.slave_default_flags.end());
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  return AddNode(Role::kSlave, id, BinaryPath("SEMISYNC_SLAVE_BIN", SEMISYNC_SLAVE_BIN),
                 std::move(flags));
}

Node* Cluster::slave(const std::string& id) const {
  for (const auto& n : nodes_) {
    if (n->role() == Role::kSlave && n->name() == id) return n.get();
  }
  return nullptr;
}

std::vector<Node*> Cluster::slaves() const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    if (n->role() == Role::kSlave) out.push_back(n.get());
  }
  return out;
}

absl::Status Cluster::Kill(Node& node, int sig) {
  if (!node.running()) {
    return absl::FailedPreconditionError(absl::StrCat("Kill: ", node.name(), " is not running"));
  }
  if (std::optional<int> exit = node.PollExit()) {
    node.unexpected_exit_ = *exit;
    return absl::FailedPreconditionError(absl::StrCat(
        "Kill: ", node.name(), " had already exited (", DescribeWaitStatus(*exit), ")"));
  }
  node.SignalGroup(sig);
  if (sig != SIGKILL) {
    if (node.paused()) node.SignalGroup(SIGCONT);
    absl::Time deadline = absl::Now() + options_.terminate_timeout;
    while (absl::Now() < deadline) {
      if (node.PollExit()) return absl::OkStatus();
      absl::SleepFor(kStartPoll);
    }
    node.SignalGroup(SIGKILL);
    node.Reap();
    return absl::DeadlineExceededError(
        absl::StrCat(node.name(), " survived signal ", sig, " for ",
                     absl::FormatDuration(options_.terminate_timeout), "; SIGKILLed it"));
  }
  int status = node.Reap();
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    node.unexpected_exit_ = status;
  }
  return absl::OkStatus();
}

absl::Status Cluster::Pause(Node& node) {
  if (!node.running()) {
    return absl::FailedPreconditionError(absl::StrCat("Pause: ", node.name(), " is not running"));
  }
  node.SignalGroup(SIGSTOP);
  int status = 0;
  pid_t r;
  while ((r = waitpid(node.pid(), &status, WUNTRACED)) < 0 && errno == EINTR) {
  }
  if (r == node.pid() && WIFSTOPPED(status)) {
    node.paused_ = true;
    return absl::OkStatus();
  }
  node.pid_ = -1;
  node.unexpected_exit_ = status;
  return absl::InternalError(absl::StrCat("Pause: ", node.name(), " exited instead of stopping (",
                                          DescribeWaitStatus(status), ")"));
}

absl::Status Cluster::Resume(Node& node) {
  if (!node.running()) {
    return absl::FailedPreconditionError(absl::StrCat("Resume: ", node.name(), " is not running"));
  }
  node.SignalGroup(SIGCONT);
  node.paused_ = false;
  return absl::OkStatus();
}

absl::StatusOr<int> Cluster::Terminate(Node& node) {
  if (!node.running()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Terminate: ", node.name(), " is not running"));
  }
  if (std::optional<int> exit = node.PollExit()) {
    node.unexpected_exit_ = *exit;
    return absl::FailedPreconditionError(absl::StrCat(
        "Terminate: ", node.name(), " had already exited (", DescribeWaitStatus(*exit), ")"));
  }
  node.SignalGroup(SIGTERM);
  if (node.paused()) node.SignalGroup(SIGCONT);
  absl::Time deadline = absl::Now() + options_.terminate_timeout;
  while (absl::Now() < deadline) {
    if (std::optional<int> exit = node.PollExit()) return *exit;
    absl::SleepFor(kStartPoll);
  }
  node.SignalGroup(SIGKILL);
  node.Reap();
  return absl::DeadlineExceededError(absl::StrCat(node.name(), " did not exit within ",
                                                  absl::FormatDuration(options_.terminate_timeout),
                                                  " of SIGTERM; SIGKILLed it\n", node.LogTail()));
}

absl::Status Cluster::Restart(Node& node) {
  if (node.running()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Restart: ", node.name(), " is still running (pid ", node.pid(), ")"));
  }
  if (node.role() != Role::kMaster) return node.Start(/*grpc_port=*/0, options_.start_timeout);

  // The master comes back on its old port so that running slaves find it again.
  const int port = node.port();
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  if (!EventuallyImpl(
          [port] {
            return PortBindable(port) ? absl::OkStatus() : absl::UnavailableError("bound");
          },
          kPortFreeTimeout, "")) {
    return absl::UnavailableError(absl::StrCat("restart of ", node.name(), ": port ", port,
                                               " still bound after ",
                                               absl::FormatDuration(kPortFreeTimeout)));
  }
  absl::Status last;
  for (int attempt = 1; attempt <= kPinnedPortAttempts; ++attempt) {
    last = node.Start(port, std::max(deadline - absl::Now(), absl::Seconds(5)));
    // Only an early exit because the port was taken (again) is worth another try; any other
    // failure is the master's and is reported as is. (The message carries the log tail.)
    const bool port_taken =
        last.code() == absl::StatusCode::kUnavailable &&
        absl::StrContains(absl::AsciiStrToLower(last.message()), "address already in use");
    if (last.ok() || !port_taken) return last;
    absl::SleepFor(absl::Milliseconds(200));
  }
  node.port_ = port;  // keep the pinned port for a later attempt
  return absl::Status(last.code(), absl::StrCat("restart of ", node.name(), " on port ", port,
                                                " failed after retries: ", last.message()));
}

::testing::AssertionResult Cluster::WaitForSlaveCaughtUp(const Node& slave,
                                                         absl::Duration timeout) {
  if (master_ == nullptr) return ::testing::AssertionFailure() << "no master";
  const Node& master = *master_;
  return Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<v1::MasterStatus> m = GetMasterStatus(master, absl::Seconds(5));
        if (!m.ok()) return m.status();
        absl::StatusOr<v1::SlaveStatus> s = GetSlaveStatus(slave, absl::Seconds(5));
        if (!s.ok()) return s.status();
        if (s->executed_position() == m->binlog_end_position() &&
            s->retrieved_position() == m->binlog_end_position()) {
          return absl::OkStatus();
        }
        return absl::UnavailableError(
            absl::StrCat(slave.name(), ": retrieved ", s->retrieved_position(), ", executed ",
                         s->executed_position(), ", io_running ", s->io_running(), ", sql_running ",
                         s->sql_running(), ", connected ", s->connected(), ", last_io_error \"",
                         s->last_io_error(), "\", last_sql_error \"", s->last_sql_error(),
                         "\"; master binlog end ", m->binlog_end_position()));
      },
      timeout, absl::StrCat(slave.name(), " executes the master's whole binlog"));
}

void Cluster::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (const auto& n : nodes_) {
    if (std::optional<int> exit = n->PollExit()) n->unexpected_exit_ = *exit;
  }
  for (const auto& n : nodes_) {
    if (n->running()) {
      n->SignalGroup(SIGKILL);
      n->Reap();
    }
  }
  for (const auto& n : nodes_) {
    if (n->unexpected_exit_) {
      ADD_FAILURE() << n->name() << " exited on its own ("
                    << DescribeWaitStatus(*n->unexpected_exit_) << ")\n"
                    << n->LogTail(60);
    }
  }
  if (::testing::Test::HasFailure()) {
    for (const auto& n : nodes_) std::cerr << n->LogTail(60) << "\n";
    std::cerr << "cluster: kept " << temp_dir_ << " (logs, data dirs)";
    if (!mariadb_databases_.empty()) {
      std::cerr << " and MariaDB databases " << absl::StrJoin(mariadb_databases_, ", ");
    }
    std::cerr << "\n";
    return;
  }
  if (getenv("SEMISYNC_IT_KEEP_DIR") != nullptr) {
    std::cerr << "cluster: kept " << temp_dir_ << " ($SEMISYNC_IT_KEEP_DIR)\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(temp_dir_, ec);
  for (const std::string& db : mariadb_databases_) {
    absl::Status dropped = test_util::DropMariaDbDatabaseForTest(db);
    if (!dropped.ok()) std::cerr << "cluster: " << dropped << "\n";
  }
}

// ---------------------------------------------------------------------------------------------
// RPC helpers

namespace {

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(DeadlineIn(timeout));
}

absl::Status NeedStub(bool present, const Node& node, const char* what) {
  if (present) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(node.name(), " has no ", what, " stub"));
}

}  // namespace

absl::StatusOr<v1::RecordWriteResponse> CreateRecord(const Node& node, const std::string& content,
                                                     absl::Duration rpc_timeout) {
  auto stub = node.records();
  if (absl::Status s = NeedStub(stub != nullptr, node, "records"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::CreateRecordRequest req;
  req.set_content(content);
  v1::RecordWriteResponse resp;
  absl::Status s = FromGrpc(stub->CreateRecord(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::RecordWriteResponse> UpdateRecord(const Node& node, int64_t id,
                                                     const std::string& content,
                                                     absl::Duration rpc_timeout) {
  auto stub = node.records();
  if (absl::Status s = NeedStub(stub != nullptr, node, "records"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::UpdateRecordRequest req;
  req.set_id(id);
  req.set_content(content);
  v1::RecordWriteResponse resp;
  absl::Status s = FromGrpc(stub->UpdateRecord(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::DeleteRecordResponse> DeleteRecord(const Node& node, int64_t id,
                                                      absl::Duration rpc_timeout) {
  auto stub = node.records();
  if (absl::Status s = NeedStub(stub != nullptr, node, "records"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::DeleteRecordRequest req;
  req.set_id(id);
  v1::DeleteRecordResponse resp;
  absl::Status s = FromGrpc(stub->DeleteRecord(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::Record> GetRecord(const Node& node, int64_t id, absl::Duration rpc_timeout) {
  auto stub = node.records();
  if (absl::Status s = NeedStub(stub != nullptr, node, "records"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::GetRecordRequest req;
  req.set_id(id);
  v1::Record resp;
  absl::Status s = FromGrpc(stub->GetRecord(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<std::vector<v1::Record>> ListAllRecords(const Node& node, int page_size) {
  auto stub = node.records();
  if (absl::Status s = NeedStub(stub != nullptr, node, "records"); !s.ok()) return s;
  std::vector<v1::Record> all;
  int64_t after = 0;
  for (int page = 0;; ++page) {
    if (page > 100000) return absl::InternalError("ListRecords: more than 100000 pages");
    grpc::ClientContext ctx;
    SetDeadline(&ctx, kDefaultRpcTimeout);
    v1::ListRecordsRequest req;
    req.set_after_id(after);
    req.set_limit(page_size);
    v1::ListRecordsResponse resp;
    absl::Status s = FromGrpc(stub->ListRecords(&ctx, req, &resp));
    if (!s.ok()) return s;
    if (resp.records_size() > page_size) {
      return absl::InternalError(absl::StrCat("ListRecords on ", node.name(), " returned ",
                                              resp.records_size(), " records for limit ",
                                              page_size));
    }
    for (const v1::Record& r : resp.records()) {
      if (r.id() <= after) {
        return absl::InternalError(absl::StrCat("ListRecords on ", node.name(), ": id ", r.id(),
                                                " after_id ", after, " (ids must increase)"));
      }
      after = r.id();
      all.push_back(r);
    }
    if (resp.next_after_id() == 0) break;
    if (resp.next_after_id() != after) {
      return absl::InternalError(absl::StrCat("ListRecords on ", node.name(), ": next_after_id ",
                                              resp.next_after_id(), " but last id ", after));
    }
  }
  return all;
}

absl::StatusOr<v1::MasterStatus> GetMasterStatus(const Node& master, absl::Duration rpc_timeout) {
  auto stub = master.replication();
  if (absl::Status s = NeedStub(stub != nullptr, master, "replication"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::MasterStatus resp;
  absl::Status s = FromGrpc(stub->GetStatus(&ctx, v1::GetMasterStatusRequest(), &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::SlaveStatus> GetSlaveStatus(const Node& slave, absl::Duration rpc_timeout) {
  auto stub = slave.control();
  if (absl::Status s = NeedStub(stub != nullptr, slave, "slave control"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout);
  v1::SlaveStatus resp;
  absl::Status s = FromGrpc(stub->GetStatus(&ctx, v1::GetSlaveStatusRequest(), &resp));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::SlaveStatus> StopSync(const Node& slave) {
  auto stub = slave.control();
  if (absl::Status s = NeedStub(stub != nullptr, slave, "slave control"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, kDefaultRpcTimeout);
  v1::SyncResponse resp;
  absl::Status s = FromGrpc(stub->StopSync(&ctx, v1::StopSyncRequest(), &resp));
  if (!s.ok()) return s;
  return resp.status();
}

absl::StatusOr<v1::SlaveStatus> StartSync(const Node& slave) {
  auto stub = slave.control();
  if (absl::Status s = NeedStub(stub != nullptr, slave, "slave control"); !s.ok()) return s;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, kDefaultRpcTimeout);
  v1::SyncResponse resp;
  absl::Status s = FromGrpc(stub->StartSync(&ctx, v1::StartSyncRequest(), &resp));
  if (!s.ok()) return s;
  return resp.status();
}

::testing::AssertionResult SameRecords(const std::vector<v1::Record>& expected,
                                       const std::vector<v1::Record>& actual) {
  std::map<int64_t, const v1::Record*> want, got;
  for (const v1::Record& r : expected) want[r.id()] = &r;
  for (const v1::Record& r : actual) got[r.id()] = &r;
  std::vector<int64_t> missing, extra, differing;
  for (const auto& [id, r] : want) {
    auto it = got.find(id);
    if (it == got.end()) {
      missing.push_back(id);
    } else if (!google::protobuf::util::MessageDifferencer::Equals(*r, *it->second)) {
      differing.push_back(id);
    }
  }
  for (const auto& [id, r] : got) {
    if (want.count(id) == 0) extra.push_back(id);
  }
  bool duplicates = want.size() != expected.size() || got.size() != actual.size();
  if (missing.empty() && extra.empty() && differing.empty() && !duplicates) {
    return ::testing::AssertionSuccess();
  }
  auto head = [](const std::vector<int64_t>& ids) {
    std::vector<int64_t> first(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 20));
    return absl::StrCat("[", absl::StrJoin(first, ","), ids.size() > 20 ? ",...]" : "]", " (",
                        ids.size(), ")");
  };
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  failure << "records differ: expected " << expected.size() << " rows, actual " << actual.size()
          << (duplicates ? " (duplicate ids!)" : "") << "; missing ids " << head(missing)
          << "; extra ids " << head(extra) << "; differing ids " << head(differing);
  if (!differing.empty()) {
    failure << "; first difference: expected {" << want[differing[0]]->ShortDebugString()
            << "} actual {" << got[differing[0]]->ShortDebugString() << "}";
  }
  return failure;
}

::testing::AssertionResult SameRows(const Node& expected, const Node& actual) {
  absl::StatusOr<std::vector<v1::Record>> want = ListAllRecords(expected);
  if (!want.ok()) return ::testing::AssertionFailure() << want.status();
  absl::StatusOr<std::vector<v1::Record>> got = ListAllRecords(actual);
  if (!got.ok()) return ::testing::AssertionFailure() << got.status();
  ::testing::AssertionResult same = SameRecords(*want, *got);
  if (!same) {
    return ::testing::AssertionFailure()
           << expected.name() << " vs " << actual.name() << ": " << same.message();
  }
  return same;
}

// ---------------------------------------------------------------------------------------------
// Eventually

::testing::AssertionResult EventuallyImpl(const std::function<absl::Status()>& condition,
                                          absl::Duration timeout, absl::string_view description) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  absl::Duration delay = absl::Milliseconds(20);
  int polls = 0;
  absl::Status last;
  while (true) {
    ++polls;
    last = condition();
    if (last.ok()) return ::testing::AssertionSuccess();
    absl::Time now = absl::Now();
    if (now >= deadline) break;
    absl::SleepFor(std::min(delay, deadline - now));
    delay = std::min(delay * 2, absl::Milliseconds(200));
  }
  return ::testing::AssertionFailure()
         << "timed out after " << absl::FormatDuration(absl::Now() - start)
         << " waiting for: " << description << "\n  last check (" << polls << " polls): " << last;
}

::testing::AssertionResult ConsistentlyImpl(const std::function<absl::Status()>& condition,
                                            absl::Duration duration,
                                            absl::string_view description) {
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  int polls = 0;
  while (true) {
    ++polls;
    absl::Status s = condition();
    if (!s.ok()) {
      return ::testing::AssertionFailure()
             << "stopped holding after " << absl::FormatDuration(absl::Now() - start) << " (poll "
             << polls << "): " << description << "\n  check: " << s;
    }
    absl::Time now = absl::Now();
    if (now >= end) return ::testing::AssertionSuccess();
    absl::SleepFor(std::min(absl::Milliseconds(50), end - now));
  }
}

}  // namespace integration
}  // namespace semisync
