// semisyncctl against a live local cluster (tests/integration/cluster.h: a master and one slave,
// real processes on loopback ports picked by the kernel): every subcommand, its table and --json
// output, and the exit codes scripts rely on (client/cli.h).
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/clients/cli_process.h"
#include "tests/integration/cluster.h"

namespace semisync {
namespace clients_test {
namespace {

using integration::Cluster;
using integration::Eventually;
using integration::Node;
using ::testing::HasSubstr;

// Parses proto3 JSON strictly: an unknown (e.g. camelCase) field name fails the test.
template <typename Message>
Message ParseJson(const std::string& json) {
  Message m;
  auto s = google::protobuf::util::JsonStringToMessage(
      std::string(absl::StripTrailingAsciiWhitespace(json)), &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << json;
  return m;
}

// A loopback port that nothing listens on (bound, then released).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------------
// Without a server.

TEST(CliUsage, HelpListsCommandsAndExitCodesAndExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    CliResult r = RunCli({flag});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_THAT(r.out, HasSubstr("records create CONTENT"));
    EXPECT_THAT(r.out, HasSubstr("binlog tail"));
    EXPECT_THAT(r.out, HasSubstr("exit codes:"));
    EXPECT_THAT(r.out, HasSubstr("4  NOT_FOUND"));
    EXPECT_THAT(r.out, HasSubstr("--timeout_ms"));
  }
}

TEST(CliUsage, UsageErrorsExitWithOneAndSendNothing) {
  // --master points at a closed port: a command that wrongly sent an RPC would exit with 3.
  const std::string master = absl::StrCat("--master=127.0.0.1:", ClosedPort());
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"--no_such_flag", "slaves"},
      {"records"},
      {"records", "get"},
      {"records", "get", "abc"},
      {"records", "get", "0"},
      {"records", "create", "a", "b"},
      {"records", "update", "1"},
      {"records", "frob"},
      {"--node=elsewhere", "records", "get", "1"},
      {"--limit=5", "slaves"},
      {"--limit=5", "records", "get", "1"},
      {"status"},
      {"status", "both"},
      {"sync", "pause"},
      {"binlog", "head"},
      {"--count=-1", "binlog", "tail"},
      {"load", "--count=5", "--duration_s=1"},
      {"load", "--clients=0"},
      {"--timeout_ms=0", "slaves"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> all = {master};
    all.insert(all.end(), args.begin(), args.end());
    CliResult r = RunCli(all);
    EXPECT_EQ(r.exit_code, 1) << absl::StrJoin(args, " ") << "\n" << r;
    EXPECT_EQ(r.out, "") << absl::StrJoin(args, " ");
    EXPECT_NE(r.err, "") << absl::StrJoin(args, " ");
  }
}

TEST(CliUsage, UnreachableServerExitsWithThree) {
  const std::string master = absl::StrCat("--master=127.0.0.1:", ClosedPort());
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status", "master"},
                                             {"records", "create", "x"},
                                             {"binlog", "tail", "--count=1"},
                                             {"load", "--count=3"}}) {
    std::vector<std::string> all = {master};
    all.insert(all.end(), args.begin(), args.end());
    CliResult r = RunCli(all);
    EXPECT_EQ(r.exit_code, 3) << r;
    EXPECT_TRUE(absl::StartsWith(r.err, "error: UNAVAILABLE: ")) << r;
  }
}

// ---------------------------------------------------------------------------------------------
// Against a cluster: a master (semi-sync timeout 1 s, so that a stopped slave costs little) and
// one semi-sync slave.

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto master = cluster_.StartMaster({"--semi_sync_timeout_ms=1000"});
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = *master;
    auto slave = cluster_.StartSlave("slave1");
    ASSERT_TRUE(slave.ok()) << slave.status();
    slave_ = *slave;
  }

  // semisyncctl --master=... --slave=... args...
  std::vector<std::string> Args(std::vector<std::string> args) const {
    args.insert(args.begin(), {absl::StrCat("--master=", master_->address()),
                               absl::StrCat("--slave=", slave_->address())});
    return args;
  }
  CliResult Ctl(std::vector<std::string> args, const CliOptions& options = {}) const {
    return RunCli(Args(std::move(args)), options);
  }
  // Creates a record through the CLI (--json) and returns what the master answered.
  v1::RecordWriteResponse Create(const std::string& content) {
    CliResult r = Ctl({"--json", "records", "create", content});
    EXPECT_EQ(r.exit_code, 0) << r;
    return ParseJson<v1::RecordWriteResponse>(r.out);
  }
  v1::MasterStatus MasterStatus() {
    CliResult r = Ctl({"--json", "status", "master"});
    EXPECT_EQ(r.exit_code, 0) << r;
    return ParseJson<v1::MasterStatus>(r.out);
  }

  // Whether the master lists `observer` with an open binlog stream.
  bool ObserverConnected(const std::string& observer) {
    const v1::MasterStatus status = MasterStatus();
    for (const auto& s : status.slaves()) {
      if (s.slave_id() == observer && s.connected()) return true;
    }
    return false;
  }

  Cluster cluster_;
  Node* master_ = nullptr;
  Node* slave_ = nullptr;
};

TEST_F(CliTest, RecordWrittenOnMasterIsReadBackFromSlave) {
  v1::RecordWriteResponse created = Create("hello from the CLI");
  EXPECT_GT(created.record().id(), 0);
  EXPECT_EQ(created.record().content(), "hello from the CLI");
  EXPECT_TRUE(created.write().semi_sync_acked());
  EXPECT_THAT(created.write().gtid(), HasSubstr(":"));
  ASSERT_TRUE(cluster_.WaitForSlaveCaughtUp(*slave_));

  const std::string id = absl::StrCat(created.record().id());
  CliResult r = Ctl({"--node=slave", "--json", "records", "get", id});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::Record on_slave = ParseJson<v1::Record>(r.out);
  EXPECT_EQ(on_slave.content(), "hello from the CLI");
  EXPECT_EQ(on_slave.created_at_us(), created.record().created_at_us());

  r = Ctl({"--node=slave", "records", "get", id});  // the readable form
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("content     hello from the CLI"));
  EXPECT_THAT(r.out, HasSubstr("created_at  20"));
}

TEST_F(CliTest, UpdateListAndDeleteThenGetExitsWithFour) {
  const std::string id = absl::StrCat(Create("first").record().id());
  CliResult r = Ctl({"records", "update", id, "second"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("content     second"));
  EXPECT_THAT(r.out, HasSubstr("semi_sync   acked by slaves"));

  r = Ctl({"records", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(absl::StartsWith(r.out, "ID  CREATED_AT")) << r;
  EXPECT_THAT(r.out, HasSubstr("second"));

  r = Ctl({"--json", "records", "delete", id});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(absl::StrCat(ParseJson<v1::DeleteRecordResponse>(r.out).id()), id);

  r = Ctl({"records", "get", id});
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(absl::StartsWith(r.err, "error: NOT_FOUND: ")) << r;
  r = Ctl({"records", "update", id, "again"});
  EXPECT_EQ(r.exit_code, 4) << r;
}

TEST_F(CliTest, ListPagesWithLimitAndAllFollowsEveryPage) {
  for (int i = 0; i < 5; ++i) Create(absl::StrCat("row ", i));
  CliResult r = Ctl({"--json", "records", "list", "--limit=2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::ListRecordsResponse page = ParseJson<v1::ListRecordsResponse>(r.out);
  ASSERT_EQ(page.records_size(), 2);
  EXPECT_EQ(page.next_after_id(), page.records(1).id());

  r = Ctl({"records", "list", "--limit=2"});
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("(more: --after_id=", page.next_after_id())));

  r = Ctl({"--json", "records", "list", "--all", "--limit=2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::ListRecordsResponse all = ParseJson<v1::ListRecordsResponse>(r.out);
  ASSERT_EQ(all.records_size(), 5);
  EXPECT_EQ(all.next_after_id(), 0);
  EXPECT_EQ(all.records(4).content(), "row 4");

  r = Ctl({"--json", "records", "list", absl::StrCat("--after_id=", all.records(2).id())});
  EXPECT_EQ(ParseJson<v1::ListRecordsResponse>(r.out).records_size(), 2);
}

TEST_F(CliTest, CreateReadsContentFromStdinAndKeepsControlCharacters) {
  CliOptions options;
  options.stdin_data = "line one\nline two";
  CliResult r = Ctl({"--json", "records", "create", "-"}, options);
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::RecordWriteResponse created = ParseJson<v1::RecordWriteResponse>(r.out);
  EXPECT_EQ(created.record().content(), "line one\nline two");
  r = Ctl({"records", "list"});  // tables escape the newline, one row per record
  EXPECT_THAT(r.out, HasSubstr("line one\\nline two"));
}

TEST_F(CliTest, WriteSentToSlaveExitsWithTwoAndNamesTheCode) {
  CliResult r = Ctl({"--node=slave", "records", "create", "nope"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(absl::StartsWith(r.err, "error: FAILED_PRECONDITION: ")) << r;
  EXPECT_THAT(r.err, HasSubstr(master_->address()));
}

TEST_F(CliTest, StatusOfMasterAndSlaveAsTablesAndJson) {
  Create("x");
  ASSERT_TRUE(cluster_.WaitForSlaveCaughtUp(*slave_));
  CliResult r = Ctl({"status", "master"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("role "));
  EXPECT_THAT(r.out, HasSubstr("semi_sync_config.wait_point"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("semi_sync\\.status +ON"));
  EXPECT_THAT(r.out, HasSubstr("slaves (1):"));
  v1::MasterStatus m = MasterStatus();
  EXPECT_EQ(m.binlog_end_position(), 1u);
  EXPECT_TRUE(m.semi_sync().status());
  EXPECT_THAT(r.out, HasSubstr(m.server_uuid()));

  r = Ctl({"status", "slave"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("io_running +yes"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("slave_id +slave1"));
  r = Ctl({"--json", "status", "slave"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("\"executed_position\":\"1\""));  // proto names, int64 as string
  v1::SlaveStatus s = ParseJson<v1::SlaveStatus>(r.out);
  EXPECT_EQ(s.master_uuid(), m.server_uuid());
  EXPECT_EQ(s.executed_position(), 1u);
}

TEST_F(CliTest, SlavesListsEachSlaveWithItsLag) {
  Create("x");
  ASSERT_TRUE(cluster_.WaitForSlaveCaughtUp(*slave_));
  CliResult r = Ctl({"slaves"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r;
  EXPECT_THAT(lines[0], ::testing::ContainsRegex(
                            "^SLAVE_ID +ADDRESS +CONNECTED +SEMI_SYNC +ACKED +APPLIED +LAG_EVENTS "
                            "+LAG_SECONDS +LAST_ACK$"));
  EXPECT_THAT(lines[1], ::testing::ContainsRegex("^slave1 +127\\.0\\.0\\.1:[0-9]+ +yes +yes +1 "));
  r = Ctl({"--json", "slaves"});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::MasterStatus parsed = ParseJson<v1::MasterStatus>(r.out);  // {"slaves":[...]}
  ASSERT_EQ(parsed.slaves_size(), 1);
  EXPECT_EQ(parsed.slaves(0).slave_id(), "slave1");
  EXPECT_EQ(parsed.slaves(0).acked_position(), 1u);
}

TEST_F(CliTest, BinlogTailReplaysThenFollowsLiveAsNonSemiSyncObserver) {
  Create("one");
  Create("two");
  CliProcess tail;
  ASSERT_OK(tail.Start(CtlBinary(),
                       Args({"--json", "binlog", "tail", "--after_position=0", "--count=4"})));
  const std::string observer = absl::StrCat("semisyncctl-tail-", tail.pid());
  // Subscribed: the master lists the observer as connected (and not semi-sync).
  ASSERT_TRUE(Eventually(
      [&] { return ObserverConnected(observer); },
      absl::Seconds(20), "the tail is subscribed"));
  Create("three");
  Create("four");
  CliResult r = tail.Wait(absl::Seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r;
  const char* contents[] = {"one", "two", "three", "four"};
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::BinlogEvent e = ParseJson<v1::BinlogEvent>(lines[i]);
    EXPECT_EQ(e.position(), i + 1);
    EXPECT_EQ(e.op(), v1::ROW_OP_INSERT);
    EXPECT_EQ(e.record().content(), contents[i]);
  }
  // It never acked and never counted as a semi-sync client; writes still waited for slave1.
  v1::MasterStatus m = MasterStatus();
  EXPECT_EQ(m.semi_sync().clients(), 1u);
  EXPECT_EQ(m.semi_sync().no_tx(), 0u);
  for (const auto& s : m.slaves()) {
    if (s.slave_id() != observer) continue;
    EXPECT_FALSE(s.semi_sync());
    EXPECT_EQ(s.acked_position(), 0u);
    EXPECT_EQ(s.last_ack_time_us(), 0);
  }
  // An asynchronous observer leaves the master's slave list with its stream.
  ASSERT_TRUE(Eventually(
      [&] {
        const v1::MasterStatus now = MasterStatus();
        for (const auto& s : now.slaves()) {
          if (s.slave_id() == observer) return false;
        }
        return true;
      },
      absl::Seconds(20), "the finished tail leaves the slave list"));
}

TEST_F(CliTest, BinlogTailByDefaultStartsAtTheEnd) {
  Create("old");
  CliProcess tail;
  ASSERT_OK(tail.Start(CtlBinary(), Args({"binlog", "tail", "--count=1"})));
  const std::string observer = absl::StrCat("semisyncctl-tail-", tail.pid());
  ASSERT_TRUE(Eventually(
      [&] { return ObserverConnected(observer); },
      absl::Seconds(20), "the tail is subscribed"));
  Create("new");
  CliResult r = tail.Wait(absl::Seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("^#2  20[^ ]+Z  INSERT  id=2  gtid=[^ ]+:2  "
                                              "content=new\n$"));
}

TEST_F(CliTest, SyncStopAndStartControlTheSlave) {
  CliResult r = Ctl({"sync", "stop"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("io_running +no"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("sql_running +no"));
  // With its only slave stopped, the master times out (1 s) and commits asynchronously.
  v1::RecordWriteResponse w = Create("while stopped");
  EXPECT_FALSE(w.write().semi_sync_acked());

  r = Ctl({"--json", "sync", "start"});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::SyncResponse started = ParseJson<v1::SyncResponse>(r.out);
  EXPECT_TRUE(started.status().io_running());
  ASSERT_TRUE(cluster_.WaitForSlaveCaughtUp(*slave_));
  r = Ctl({"--node=slave", "records", "get", absl::StrCat(w.record().id())});
  EXPECT_EQ(r.exit_code, 0) << r;
}

TEST_F(CliTest, LoadWithCountPrintsSummaryAndNoProgressWithoutTty) {
  CliResult r = Ctl({"load", "--clients=2", "--count=40", "--content_bytes=16"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");  // stderr is a pipe: no progress bar
  EXPECT_THAT(r.out, HasSubstr("40 ops (40 writes, 0 reads), 0 errors"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("throughput  [0-9.]+ ops/s"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("p50 [0-9.]+  p95 [0-9.]+  p99 [0-9.]+"));
  EXPECT_THAT(r.out, HasSubstr("acked       40 of 40 writes"));
  EXPECT_EQ(MasterStatus().binlog_end_position(), 40u);

  r = Ctl({"--json", "load", "--clients=3", "--count=9"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("\"ops\":9,\"writes\":9,"));
  EXPECT_THAT(r.out, HasSubstr("\"acked\":9,\"errors\":0,"));
  EXPECT_THAT(r.out, HasSubstr("\"write_p99_ms\":"));
}

TEST_F(CliTest, LoadForDurationDrawsProgressBarOnTty) {
  CliOptions tty;
  tty.stderr_tty = true;
  CliResult r = Ctl({"load", "--clients=2", "--duration_s=0.5"}, tty);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, ::testing::ContainsRegex("\\[[#.]{30}\\] +[0-9]+%"));
  EXPECT_THAT(r.err, HasSubstr("ops/s"));
  EXPECT_THAT(r.out, HasSubstr("0 errors"));
}

TEST_F(CliTest, LoadWhoseWritesFailExitsWithTwo) {
  // A slave answers reads but refuses writes: every operation fails.
  CliResult r = RunCli({absl::StrCat("--master=", slave_->address()), "load", "--count=5"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.out, HasSubstr("5 errors"));
  EXPECT_THAT(r.err, HasSubstr("error: FAILED_PRECONDITION: "));
  EXPECT_THAT(r.err, HasSubstr("(5 of 5 operations failed)"));
}

TEST_F(CliTest, NoAnswerWithinTimeoutExitsWithFive) {
  ASSERT_OK(cluster_.Pause(*master_));
  CliResult r = Ctl({"--timeout_ms=300", "status", "master"});
  ASSERT_OK(cluster_.Resume(*master_));
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_TRUE(absl::StartsWith(r.err, "error: DEADLINE_EXCEEDED: ")) << r;
}

}  // namespace
}  // namespace clients_test
}  // namespace semisync
