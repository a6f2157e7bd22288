// semisyncctl: the command-line client of a semisync cluster (records CRUD, status, slave list,
// binlog tail, START/STOP SLAVE, bulk load). Flags are parsed here with gflags; the commands
// live in cli_*.cc (client/cli.h) and take a CliOptions.
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "gflags/gflags.h"

DEFINE_string(master, "127.0.0.1:50051", "the master's gRPC address, host:port");
DEFINE_string(slave, "127.0.0.1:50052",
              "a slave's gRPC address, host:port (status slave, sync, records with --node=slave)");
DEFINE_bool(json, false,
            "print proto3 JSON (proto field names, one object per line) instead of tables");
DEFINE_int64(timeout_ms, 30000,
             "deadline of each RPC, milliseconds (above the master's default 10 s semi-sync "
             "timeout, so that a write waiting for acks is not cut short)");
DEFINE_string(node, "master", "records: send to the master or to the slave (reads only)");
DEFINE_int64(after_id, 0, "records list: only records with a larger id");
DEFINE_int32(limit, 0, "records list: at most this many records (0: server default 100)");
DEFINE_bool(all, false, "records list: every record, following next_after_id page by page");
DEFINE_int64(after_position, -1,
             "binlog tail: events after this binlog position (-1: only new events)");
DEFINE_int64(count, 0,
             "binlog tail: exit after this many events (0: follow forever); load: operations "
             "in all (instead of --duration_s)");
DEFINE_int32(clients, 4, "load: concurrent clients, one connection each");
DEFINE_double(duration_s, 10, "load: seconds to run (when --count is not given)");
DEFINE_int32(content_bytes, 32, "load: bytes of random content per record");
DEFINE_int32(read_pct, 0, "load: percent of operations that read a random record instead");

namespace {

constexpr char kUsage[] = R"(semisyncctl: command-line client of a semisync cluster

usage: semisyncctl [--master=ADDR] [--slave=ADDR] [--json] [--timeout_ms=MS] COMMAND ...

commands:
  records create CONTENT            write a record on the master ('-' reads CONTENT from stdin)
  records get ID                    read one record
  records list [--after_id=N] [--limit=N] [--all]
                                    list records by id (--all: every page)
  records update ID CONTENT         replace a record's content
  records delete ID                 delete a record
                                    (records reads go to a slave with --node=slave)
  status master|slave               replication status (SHOW MASTER / SLAVE STATUS)
  slaves                            the master's slaves with their acked position and lag
  binlog tail [--after_position=N] [--count=K]
                                    follow the master's binlog live, as an observer that does
                                    not take part in semi-sync and never acks (it is listed by
                                    `slaves` as semisyncctl-tail-<pid>)
  sync start|stop                   START / STOP SLAVE on the slave at --slave
  load [--clients=N] [--duration_s=S | --count=K] [--content_bytes=B] [--read_pct=P]
                                    bulk CreateRecord load with a progress bar (on a terminal),
                                    then throughput, p50/p95/p99 latency, acked count, errors

Output: readable tables by default; --json prints proto3 JSON with proto field names (int64
values are JSON strings). Flags may come before or after the command; put '--' before an
argument that starts with '-'.

exit codes:
  0  OK
  1  usage error (unknown command or flag, bad argument; nothing was sent)
  2  the server returned an error not listed below (INVALID_ARGUMENT, FAILED_PRECONDITION, ...);
     also `load` when some of its operations failed
  3  UNAVAILABLE: could not connect, or the server is shutting down
  4  NOT_FOUND
  5  DEADLINE_EXCEEDED: no answer within --timeout_ms
Errors from the server print one line to stderr: "error: <GRPC_CODE>: <message>".
)";

// Flags that belong to one command; any other command given one of them is a usage error.
const std::map<std::string, std::set<std::string>>& CommandFlags() {
  static const auto* flags = new std::map<std::string, std::set<std::string>>{
      {"node", {"records"}},          {"after_id", {"records"}},
      {"limit", {"records"}},         {"all", {"records"}},
      {"after_position", {"binlog"}}, {"count", {"binlog", "load"}},
      {"clients", {"load"}},          {"duration_s", {"load"}},
      {"content_bytes", {"load"}},    {"read_pct", {"load"}},
  };
  return *flags;
}

bool FlagSet(const char* name) { return !gflags::GetCommandLineFlagInfoOrDie(name).is_default; }

void PrintHelp() {
  std::string out = kUsage;
  out += "\nflags:\n";
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& f : flags) {
    if (f.filename.find("semisyncctl_main") == std::string::npos) continue;
    std::string name = absl::StrCat("  --", f.name);
    if (f.type != "bool") absl::StrAppend(&name, "=", f.type == "string" ? "STR" : "N");
    absl::StrAppend(&out, name, std::string(name.size() < 22 ? 22 - name.size() : 1, ' '),
                    f.description, " (default ",
                    f.type == "string" ? absl::StrCat("\"", f.default_value, "\"")
                                       : f.default_value,
                    ")\n");
  }
  fputs(out.c_str(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // "-h" is not a gflags flag; treat it as --help.
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-h") == 0) argv[i] = const_cast<char*>("--help");
    if (strcmp(argv[i], "--") == 0) break;
  }
  gflags::SetUsageMessage("command-line client of a semisync cluster (see --help)");
  gflags::SetVersionString("0.1.0");
  // Non-help parsing: --help is ours (exit code 0 and the command list), not gflags' (exit 1).
  // An unknown or malformed flag makes gflags print an error and exit with 1 (usage error).
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, /*remove_flags=*/true);
  std::string help;
  gflags::GetCommandLineOption("help", &help);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (help == "true" || (!args.empty() && args[0] == "help")) {
    PrintHelp();
    return semisync::cli::kExitOk;
  }
  gflags::HandleCommandLineHelpFlags();  // --helpfull, --version, ...
  if (args.empty()) {
    return semisync::cli::UsageError(
        "missing command (records, status, slaves, binlog, sync or load)");
  }
  const std::string command = args[0];
  args.erase(args.begin());
  for (const auto& [flag, commands] : CommandFlags()) {
    if (FlagSet(flag.c_str()) && commands.count(command) == 0) {
      return semisync::cli::UsageError(absl::StrCat(
          "--", flag, " does not go with '", command, "' (only with: ",
          absl::StrJoin(commands, ", "), ")"));
    }
  }
  if (FLAGS_timeout_ms <= 0) return semisync::cli::UsageError("--timeout_ms must be positive");
  if (command == "load" && FlagSet("count") && FlagSet("duration_s")) {
    return semisync::cli::UsageError("load: give --duration_s or --count, not both");
  }

  semisync::cli::CliOptions o;
  o.master = FLAGS_master;
  o.slave = FLAGS_slave;
  o.json = FLAGS_json;
  o.timeout = absl::Milliseconds(FLAGS_timeout_ms);
  o.node = FLAGS_node;
  o.after_id = FLAGS_after_id;
  o.limit = FLAGS_limit;
  o.all = FLAGS_all;
  o.after_position = FLAGS_after_position;
  o.count = FLAGS_count;
  o.clients = FLAGS_clients;
  o.duration_s = FLAGS_duration_s;
  o.content_bytes = FLAGS_content_bytes;
  o.read_pct = FLAGS_read_pct;

  if (command == "records") return semisync::cli::RunRecords(o, args);
  if (command == "status") return semisync::cli::RunStatus(o, args);
  if (command == "slaves") return semisync::cli::RunSlaves(o, args);
  if (command == "binlog") return semisync::cli::RunBinlog(o, args);
  if (command == "sync") return semisync::cli::RunSync(o, args);
  if (command == "load") return semisync::cli::RunLoad(o, args);
  return semisync::cli::UsageError(absl::StrCat("unknown command '", command, "'"));
}
