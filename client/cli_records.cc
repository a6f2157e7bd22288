// `semisyncctl records create|get|list|update|delete` (see cli.h).
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli.h"
#include "client/cli_output.h"
#include "client/cli_rpc.h"
#include "semisync/v1/records.grpc.pb.h"

namespace semisync {
namespace cli {
namespace {

// Widest content shown in `records list` tables; `records get` shows all of it.
constexpr size_t kListContentWidth = 60;
// Page size of `records list --all` (the server's maximum).
constexpr int32_t kAllPageSize = 1000;

std::string Address(const CliOptions& o) { return o.node == "slave" ? o.slave : o.master; }

// CONTENT, or all of stdin when CONTENT is "-".
std::string ContentArg(const std::string& arg) {
  if (arg != "-") return arg;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

KeyValues RecordKeyValues(const v1::Record& r) {
  return {{"id", absl::StrCat(r.id())},
          {"content", CellText(r.content())},
          {"created_at", FormatTimeUs(r.created_at_us())},
          {"updated_at", FormatTimeUs(r.updated_at_us())}};
}

void AppendWrite(const v1::WriteResult& w, KeyValues* kv) {
  kv->emplace_back("gtid", w.gtid());
  kv->emplace_back("position", absl::StrCat(w.position()));
  kv->emplace_back("semi_sync", w.semi_sync_acked() ? "acked by slaves"
                                                    : "not acked (completed asynchronously)");
}

int PrintWrite(const CliOptions& o, const v1::RecordWriteResponse& resp) {
  if (o.json) {
    Print(ToJson(resp) + "\n");
  } else {
    KeyValues kv = RecordKeyValues(resp.record());
    AppendWrite(resp.write(), &kv);
    Print(FormatKeyValues(kv));
  }
  return kExitOk;
}

std::string RecordsTable(const google::protobuf::RepeatedPtrField<v1::Record>& records) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Record& r : records) {
    rows.push_back({absl::StrCat(r.id()), FormatTimeUs(r.created_at_us()),
                    FormatTimeUs(r.updated_at_us()), CellText(r.content(), kListContentWidth)});
  }
  return FormatTable({"ID", "CREATED_AT", "UPDATED_AT", "CONTENT"}, rows, {0});
}

int List(const CliOptions& o, v1::RecordsService::Stub* stub) {
  if (o.after_id < 0) return UsageError("--after_id must not be negative");
  if (o.limit < 0 || o.limit > 1000) return UsageError("--limit must be between 0 and 1000");
  v1::ListRecordsRequest req;
  req.set_after_id(o.after_id);
  req.set_limit(o.all && o.limit == 0 ? kAllPageSize : o.limit);
  v1::ListRecordsResponse all;
  while (true) {
    v1::ListRecordsResponse page;
    grpc::Status s = stub->ListRecords(NewContext(o).get(), req, &page);
    if (!s.ok()) return ReportError(s);
    if (!o.all) {
      all = std::move(page);
      break;
    }
    for (auto& r : *page.mutable_records()) *all.add_records() = std::move(r);
    if (page.next_after_id() == 0) break;
    if (page.next_after_id() <= req.after_id()) {
      return ReportError(grpc::Status(grpc::StatusCode::INTERNAL,
                                      "ListRecords returned a next_after_id that does not grow"));
    }
    req.set_after_id(page.next_after_id());
  }
  if (o.json) {
    Print(ToJson(all) + "\n");
  } else {
    std::string out = RecordsTable(all.records());
    if (all.next_after_id() != 0) {
      absl::StrAppend(&out, "(more: --after_id=", all.next_after_id(), ", or --all)\n");
    }
    Print(out);
  }
  return kExitOk;
}

}  // namespace

int RunRecords(const CliOptions& o, const std::vector<std::string>& args) {
  if (args.empty()) return UsageError("records: expected create, get, list, update or delete");
  if (o.node != "master" && o.node != "slave") {
    return UsageError("--node must be master or slave");
  }
  const std::string& verb = args[0];
  const size_t n = args.size() - 1;
  auto stub = v1::RecordsService::NewStub(Connect(Address(o)));
  if (verb == "list") {
    if (n != 0) return UsageError("records list takes no arguments (use --after_id, --limit)");
    return List(o, stub.get());
  }
  if (o.after_id != 0 || o.limit != 0 || o.all) {
    return UsageError("--after_id, --limit and --all only go with 'records list'");
  }
  if (verb == "create") {
    if (n != 1) return UsageError("usage: records create CONTENT (quote it; '-' reads stdin)");
    v1::CreateRecordRequest req;
    req.set_content(ContentArg(args[1]));
    v1::RecordWriteResponse resp;
    grpc::Status s = stub->CreateRecord(NewContext(o).get(), req, &resp);
    return s.ok() ? PrintWrite(o, resp) : ReportError(s);
  }
  if (verb == "get" || verb == "delete") {
    if (n != 1) return UsageError(absl::StrCat("usage: records ", verb, " ID"));
    std::optional<int64_t> id = ParseId(args[1]);
    if (!id) return UsageError(absl::StrCat("ID must be a positive integer, got '", args[1], "'"));
    if (verb == "get") {
      v1::GetRecordRequest req;
      req.set_id(*id);
      v1::Record resp;
      grpc::Status s = stub->GetRecord(NewContext(o).get(), req, &resp);
      if (!s.ok()) return ReportError(s);
      Print(o.json ? ToJson(resp) + "\n" : FormatKeyValues(RecordKeyValues(resp)));
      return kExitOk;
    }
    v1::DeleteRecordRequest req;
    req.set_id(*id);
    v1::DeleteRecordResponse resp;
    grpc::Status s = stub->DeleteRecord(NewContext(o).get(), req, &resp);
    if (!s.ok()) return ReportError(s);
    if (o.json) {
      Print(ToJson(resp) + "\n");
    } else {
      KeyValues kv = {{"deleted", absl::StrCat(resp.id())}};
      AppendWrite(resp.write(), &kv);
      Print(FormatKeyValues(kv));
    }
    return kExitOk;
  }
  if (verb == "update") {
    if (n != 2) return UsageError("usage: records update ID CONTENT (quote it; '-' reads stdin)");
    std::optional<int64_t> id = ParseId(args[1]);
    if (!id) return UsageError(absl::StrCat("ID must be a positive integer, got '", args[1], "'"));
    v1::UpdateRecordRequest req;
    req.set_id(*id);
    req.set_content(ContentArg(args[2]));
    v1::RecordWriteResponse resp;
    grpc::Status s = stub->UpdateRecord(NewContext(o).get(), req, &resp);
    return s.ok() ? PrintWrite(o, resp) : ReportError(s);
  }
  return UsageError(absl::StrCat("records: unknown command '", verb,
                                 "' (expected create, get, list, update or delete)"));
}

}  // namespace cli
}  // namespace semisync
