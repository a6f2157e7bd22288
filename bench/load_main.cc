// semisync_load: a closed-loop load generator for the master's RecordsService.
//
// N client threads, each with its own gRPC connection, send CreateRecord (or, with --read_pct, a
// mix of GetRecord by random known id and CreateRecord) back to back for --duration_s seconds.
// Prints throughput, latency percentiles and how many writes were acknowledged by slaves, as a
// table or as JSON (--json).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gflags/gflags.h"
#include "grpcpp/grpcpp.h"
#include "semisync/v1/records.grpc.pb.h"

DEFINE_string(target, "127.0.0.1:50051", "Master gRPC address");
DEFINE_int32(clients, 16, "Concurrent clients (threads, one connection each)");
DEFINE_double(duration_s, 10, "Seconds to run");
DEFINE_int32(content_bytes, 32, "Bytes of content per inserted record");
DEFINE_int32(read_pct, 0, "Percent of operations that are GetRecord by a random existing id");
DEFINE_bool(json, false, "Print one JSON object instead of a table");

namespace {

struct ClientResult {
  std::vector<double> write_latency_us;
  std::vector<double> read_latency_us;
  uint64_t acked = 0;
  uint64_t errors = 0;
  std::string last_error;
  int64_t max_id = 0;
};

double Percentile(std::vector<double>* v, double p) {
  if (v->empty()) return 0;
  size_t k = std::min(v->size() - 1, static_cast<size_t>(p / 100.0 * v->size()));
  std::nth_element(v->begin(), v->begin() + k, v->end());
  return (*v)[k];
}

void RunClient(int index, absl::Time end, std::atomic<int64_t>* max_id, ClientResult* out) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per client
  args.SetInt("semisync.client_index", index);
  auto stub = semisync::v1::RecordsService::NewStub(
      grpc::CreateCustomChannel(FLAGS_target, grpc::InsecureChannelCredentials(), args));
  std::mt19937_64 rng(index * 7919 + 1);
  std::string content(FLAGS_content_bytes, 'x');
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  while (absl::Now() < end) {
    bool read = FLAGS_read_pct > 0 && static_cast<int>(rng() % 100) < FLAGS_read_pct &&
                max_id->load() > 0;
    absl::Time start = absl::Now();
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status s;
    if (read) {
      semisync::v1::GetRecordRequest req;
      req.set_id(1 + static_cast<int64_t>(rng() % max_id->load()));
      semisync::v1::Record resp;
      s = stub->GetRecord(&ctx, req, &resp);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) s = grpc::Status::OK;
      if (s.ok()) out->read_latency_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    } else {
      for (char& c : content) c = alphabet[rng() % 36];
      semisync::v1::CreateRecordRequest req;
      req.set_content(content);
      semisync::v1::RecordWriteResponse resp;
      s = stub->CreateRecord(&ctx, req, &resp);
      if (s.ok()) {
        out->write_latency_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
        if (resp.write().semi_sync_acked()) out->acked++;
        int64_t id = resp.record().id();
        int64_t cur = max_id->load();
        while (id > cur && !max_id->compare_exchange_weak(cur, id)) {
        }
      }
    }
    if (!s.ok()) {
      out->errors++;
      out->last_error = s.error_message();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("closed-loop CreateRecord/GetRecord load against a semisync master");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_clients < 1 || FLAGS_duration_s <= 0 || FLAGS_read_pct < 0 || FLAGS_read_pct > 100) {
    fprintf(stderr, "bad flags: need --clients >= 1, --duration_s > 0, 0 <= --read_pct <= 100\n");
    return 2;
  }
  std::atomic<int64_t> max_id{0};
  {
    // Seed the id range for reads from what the master already has.
    auto stub = semisync::v1::RecordsService::NewStub(
        grpc::CreateChannel(FLAGS_target, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    semisync::v1::ListRecordsRequest req;
    req.set_limit(1);
    semisync::v1::ListRecordsResponse resp;
    grpc::Status s = stub->ListRecords(&ctx, req, &resp);
    if (!s.ok()) {
      fprintf(stderr, "cannot reach %s: %s\n", FLAGS_target.c_str(), s.error_message().c_str());
      return 1;
    }
  }
  std::vector<ClientResult> results(FLAGS_clients);
  std::vector<std::thread> threads;
  absl::Time start = absl::Now();
  absl::Time end = start + absl::Seconds(FLAGS_duration_s);
  for (int i = 0; i < FLAGS_clients; ++i) {
    threads.emplace_back(RunClient, i, end, &max_id, &results[i]);
  }
  for (auto& t : threads) t.join();
  double elapsed = absl::ToDoubleSeconds(absl::Now() - start);

  std::vector<double> writes, reads;
  uint64_t acked = 0, errors = 0;
  std::string last_error;
  for (auto& r : results) {
    writes.insert(writes.end(), r.write_latency_us.begin(), r.write_latency_us.end());
    reads.insert(reads.end(), r.read_latency_us.begin(), r.read_latency_us.end());
    acked += r.acked;
    errors += r.errors;
    if (!r.last_error.empty()) last_error = r.last_error;
  }
  double tps = (writes.size() + reads.size()) / elapsed;
  double wps = writes.size() / elapsed;
  double p50 = Percentile(&writes, 50), p95 = Percentile(&writes, 95),
         p99 = Percentile(&writes, 99);
  if (FLAGS_json) {
    printf("{\"clients\":%d,\"seconds\":%.2f,\"ops\":%zu,\"writes\":%zu,\"reads\":%zu,"
           "\"ops_per_s\":%.1f,\"writes_per_s\":%.1f,\"write_p50_ms\":%.3f,\"write_p95_ms\":%.3f,"
           "\"write_p99_ms\":%.3f,\"read_p50_ms\":%.3f,\"acked\":%llu,\"errors\":%llu}\n",
           FLAGS_clients, elapsed, writes.size() + reads.size(), writes.size(), reads.size(), tps,
           wps, p50 / 1000, p95 / 1000, p99 / 1000, Percentile(&reads, 50) / 1000,
           static_cast<unsigned long long>(acked), static_cast<unsigned long long>(errors));
  } else {
    printf("clients %d  %.1f s  ops %zu (writes %zu, reads %zu)\n", FLAGS_clients, elapsed,
           writes.size() + reads.size(), writes.size(), reads.size());
    printf("throughput %.0f ops/s (%.0f writes/s)\n", tps, wps);
    printf("write latency p50 %.3f ms  p95 %.3f ms  p99 %.3f ms\n", p50 / 1000, p95 / 1000,
           p99 / 1000);
    printf("semi-sync acked %llu of %zu writes; errors %llu%s%s\n",
           static_cast<unsigned long long>(acked), writes.size(),
           static_cast<unsigned long long>(errors), last_error.empty() ? "" : ": ",
           last_error.c_str());
  }
  return errors > 0 ? 1 : 0;
}
