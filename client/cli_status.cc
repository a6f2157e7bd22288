// `semisyncctl status master|slave`, `slaves` and `sync start|stop` (see cli.h).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "client/cli_rpc.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "semisync/v1/slave.grpc.pb.h"

namespace semisync {
namespace cli {
namespace {

std::string SlavesTable(const google::protobuf::RepeatedPtrField<v1::SlaveInfo>& slaves) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::SlaveInfo& s : slaves) {
    rows.push_back({s.slave_id(), s.address().empty() ? "-" : s.address(),
                    s.connected() ? "yes" : "no", s.semi_sync() ? "yes" : "no",
                    absl::StrCat(s.acked_position()), absl::StrCat(s.applied_position()),
                    absl::StrCat(s.lag_events()), absl::StrFormat("%.3f", s.lag_seconds()),
                    FormatTimeUs(s.last_ack_time_us())});
  }
  return FormatTable({"SLAVE_ID", "ADDRESS", "CONNECTED", "SEMI_SYNC", "ACKED", "APPLIED",
                      "LAG_EVENTS", "LAG_SECONDS", "LAST_ACK"},
                     rows, {4, 5, 6, 7});
}

grpc::Status GetMasterStatus(const CliOptions& o, v1::MasterStatus* status) {
  auto stub = v1::ReplicationService::NewStub(Connect(o.master));
  return stub->GetStatus(NewContext(o).get(), v1::GetMasterStatusRequest(), status);
}

int MasterStatus(const CliOptions& o) {
  v1::MasterStatus status;
  grpc::Status s = GetMasterStatus(o, &status);
  if (!s.ok()) return ReportError(s);
  if (o.json) {
    Print(ToJson(status) + "\n");
    return kExitOk;
  }
  KeyValues kv = MessageKeyValues(status, {"slaves"});
  // The semi-sync state first reads better as ON/OFF than as yes/no.
  for (auto& [k, v] : kv) {
    if (k == "semi_sync.status") v = status.semi_sync().status() ? "ON" : "OFF";
  }
  std::string out = FormatKeyValues(kv);
  absl::StrAppend(&out, "\nslaves (", status.slaves_size(), "):\n", SlavesTable(status.slaves()));
  Print(out);
  return kExitOk;
}

int SlaveStatus(const CliOptions& o) {
  auto stub = v1::SlaveService::NewStub(Connect(o.slave));
  v1::SlaveStatus status;
  grpc::Status s = stub->GetStatus(NewContext(o).get(), v1::GetSlaveStatusRequest(), &status);
  if (!s.ok()) return ReportError(s);
  Print(o.json ? ToJson(status) + "\n" : FormatKeyValues(MessageKeyValues(status)));
  return kExitOk;
}

}  // namespace

int RunStatus(const CliOptions& o, const std::vector<std::string>& args) {
  if (args.size() != 1) return UsageError("usage: status master|slave");
  if (args[0] == "master") return MasterStatus(o);
  if (args[0] == "slave") return SlaveStatus(o);
  return UsageError(absl::StrCat("status: expected master or slave, got '", args[0], "'"));
}

int RunSlaves(const CliOptions& o, const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("slaves takes no arguments");
  v1::MasterStatus status;
  grpc::Status s = GetMasterStatus(o, &status);
  if (!s.ok()) return ReportError(s);
  if (o.json) {
    std::string out = "{\"slaves\":[";
    for (int i = 0; i < status.slaves_size(); ++i) {
      absl::StrAppend(&out, i > 0 ? "," : "", ToJson(status.slaves(i)));
    }
    Print(out + "]}\n");
  } else {
    Print(SlavesTable(status.slaves()));
  }
  return kExitOk;
}

int RunSync(const CliOptions& o, const std::vector<std::string>& args) {
  if (args.size() != 1 || (args[0] != "start" && args[0] != "stop")) {
    return UsageError("usage: sync start|stop (on the slave at --slave)");
  }
  auto stub = v1::SlaveService::NewStub(Connect(o.slave));
  v1::SyncResponse resp;
  grpc::Status s = args[0] == "start"
                       ? stub->StartSync(NewContext(o).get(), v1::StartSyncRequest(), &resp)
                       : stub->StopSync(NewContext(o).get(), v1::StopSyncRequest(), &resp);
  if (!s.ok()) return ReportError(s);
  Print(o.json ? ToJson(resp) + "\n" : FormatKeyValues(MessageKeyValues(resp.status())));
  return kExitOk;
}

}  // namespace cli
}  // namespace semisync
