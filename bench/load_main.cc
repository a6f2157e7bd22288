// semisync_load: a closed-loop load generator for the master's RecordsService.
//
// N client threads, each with its own gRPC connection, send CreateRecord (or, with --read_pct, a
// mix of GetRecord by random known id and CreateRecord) back to back for --duration_s seconds.
// Prints throughput, latency percentiles and how many writes were acknowledged by slaves, as a
// table or as JSON (--json). The load itself is client/load_generator.h, which `semisyncctl load`
// shares.
#include <cstdio>

#include "absl/time/time.h"
#include "client/load_generator.h"
#include "gflags/gflags.h"

DEFINE_string(target, "127.0.0.1:50051", "Master gRPC address");
DEFINE_int32(clients, 16, "Concurrent clients (threads, one connection each)");
DEFINE_double(duration_s, 10, "Seconds to run");
DEFINE_int32(content_bytes, 32, "Bytes of content per inserted record");
DEFINE_int32(read_pct, 0, "Percent of operations that are GetRecord by a random existing id");
DEFINE_bool(json, false, "Print one JSON object instead of a table");

int main(int argc, char** argv) {
  gflags::SetUsageMessage("closed-loop CreateRecord/GetRecord load against a semisync master");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_clients < 1 || FLAGS_duration_s <= 0 || FLAGS_read_pct < 0 || FLAGS_read_pct > 100) {
    fprintf(stderr, "bad flags: need --clients >= 1, --duration_s > 0, 0 <= --read_pct <= 100\n");
    return 2;
  }
  semisync::client::LoadOptions options;
  options.target = FLAGS_target;
  options.clients = FLAGS_clients;
  options.duration = absl::Seconds(FLAGS_duration_s);
  options.content_bytes = FLAGS_content_bytes;
  options.read_pct = FLAGS_read_pct;
  absl::StatusOr<semisync::client::LoadSummary> summary = semisync::client::RunLoad(options);
  if (!summary.ok()) {
    fprintf(stderr, "cannot run against %s: %s\n", FLAGS_target.c_str(),
            summary.status().ToString().c_str());
    return 1;
  }
  if (FLAGS_json) {
    printf("%s\n", semisync::client::SummaryJson(*summary).c_str());
  } else {
    printf("%s", semisync::client::SummaryText(*summary).c_str());
  }
  return summary->errors > 0 ? 1 : 0;
}
