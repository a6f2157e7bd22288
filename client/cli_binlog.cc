// `semisyncctl binlog tail`: follows the master's SubscribeBinlog stream live (see cli.h).
//
// The CLI is an observer, not a replica: it registers its own id with semi_sync=false, so that the
// master never counts it towards rpl_semi_sync_master_wait_for_slave_count, and it never calls
// Ack. The id is unique per process ("semisyncctl-tail-<pid>") so that it cannot take over a real
// slave's registration; the master lists it among its slaves (as not semi-sync).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "client/cli_rpc.h"
#include "semisync/v1/replication.grpc.pb.h"

namespace semisync {
namespace cli {
namespace {

// Widest content shown per event line (--json prints all of it).
constexpr size_t kEventContentWidth = 80;

std::string EventLine(const v1::BinlogEvent& e) {
  const std::string op(absl::StripPrefix(v1::RowOp_Name(e.op()), "ROW_OP_"));
  std::string line = absl::StrCat("#", e.position(), "  ", FormatTimeUs(e.timestamp_us()), "  ",
                                  op, "  id=", e.record().id(), "  gtid=", e.gtid());
  if (e.op() != v1::ROW_OP_DELETE) {
    absl::StrAppend(&line, "  content=", CellText(e.record().content(), kEventContentWidth));
  }
  return line + "\n";
}

}  // namespace

std::string TailObserverId() { return absl::StrCat("semisyncctl-tail-", getpid()); }

int RunBinlog(const CliOptions& o, const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "tail") {
    return UsageError("usage: binlog tail [--after_position=N] [--count=K]");
  }
  if (o.after_position < -1) return UsageError("--after_position must be >= 0 (or -1: the end)");
  if (o.count < 0) return UsageError("--count must not be negative");
  auto stub = v1::ReplicationService::NewStub(Connect(o.master));
  const std::string id = TailObserverId();

  v1::RegisterSlaveRequest reg;
  reg.set_slave_id(id);
  reg.set_semi_sync(false);  // an observer: never waited for, never acks
  v1::RegisterSlaveResponse reg_resp;
  grpc::Status s = stub->RegisterSlave(NewContext(o).get(), reg, &reg_resp);
  if (!s.ok()) return ReportError(s);
  const uint64_t after = o.after_position >= 0 ? static_cast<uint64_t>(o.after_position)
                                               : reg_resp.binlog_end_position();
  if (isatty(STDERR_FILENO)) {
    fprintf(stderr, "tailing the binlog of %s (master %s) after position %llu as observer %s\n",
            o.master.c_str(), reg_resp.master_uuid().c_str(),
            static_cast<unsigned long long>(after), id.c_str());
  }

  v1::SubscribeBinlogRequest req;
  req.set_slave_id(id);
  req.set_after_position(after);
  grpc::ClientContext ctx;  // no deadline: follows the binlog until --count or a signal
  auto reader = stub->SubscribeBinlog(&ctx, req);
  v1::SubscribeBinlogResponse msg;
  int64_t printed = 0;
  bool done = false;
  while (!done && reader->Read(&msg)) {
    for (const v1::BinlogEvent& e : msg.events()) {
      Print(o.json ? ToJson(e) + "\n" : EventLine(e));
      if (o.count > 0 && ++printed >= o.count) {
        done = true;
        break;
      }
    }
  }
  if (done) {
    ctx.TryCancel();
    reader->Finish();  // CANCELLED, by us
    return kExitOk;
  }
  s = reader->Finish();
  if (s.ok()) {
    // The master ended the stream without an error; report it so that scripts notice.
    return ReportError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the master ended the stream"));
  }
  return ReportError(s);
}

}  // namespace cli
}  // namespace semisync
