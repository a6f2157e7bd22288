// semisync_mysql_lag: replication lag and catch-up of a native MariaDB primary/replica pair,
// measured the way semisync_load measures ours (bench/compare.sh runs it beside sysbench).
//
// --mode=probe: a writer thread inserts one 32-byte row into `records` on the primary about every
//   --sample_ms (autocommit, so with semi-sync AFTER_SYNC the INSERT returns once the replica has
//   acknowledged it) and notes (id, time the INSERT returned); a poller thread takes the samples
//   oldest first and runs `SELECT 1 FROM records WHERE id = ?` on the replica every --poll_ms
//   until the row is there. lag = time it was seen - time the INSERT returned. Runs until
//   --duration_s has passed or SIGTERM/SIGINT, then drains the pending samples (at most
//   --lag_timeout_s each) and prints one JSON object.
// --mode=catchup: reads @@gtid_binlog_pos on the primary, then waits on the replica with
//   MASTER_GTID_WAIT until it has applied that position; prints the seconds from --since_unix_s
//   (default: the start of this command) to then, as JSON.
#include <mysql.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gflags/gflags.h"

DEFINE_string(mode, "probe", "probe or catchup");
DEFINE_string(host, "127.0.0.1", "Host of both servers");
DEFINE_int32(primary_port, 3307, "Primary's port");
DEFINE_int32(replica_port, 3308, "Replica's port");
DEFINE_string(user, "bench", "User (on both)");
DEFINE_string(password, "bench", "Password");
DEFINE_string(db, "bench", "Database holding `records`");
DEFINE_double(duration_s, 600, "probe: stop writing after this long (or at SIGTERM)");
DEFINE_double(sample_ms, 10, "probe: one probe INSERT about every this many ms");
DEFINE_double(poll_ms, 0.5, "probe: poll the replica for a pending sample every this many ms");
DEFINE_double(lag_timeout_s, 60, "probe: drop a sample not seen on the replica after this long");
DEFINE_double(since_unix_s, 0, "catchup: start of the clock, seconds since the epoch (0: now)");
DEFINE_double(timeout_s, 120, "catchup: give up after this long");

namespace {

using Clock = std::chrono::steady_clock;
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

MYSQL* Connect(int port) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return nullptr;
  unsigned int timeout = 10;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (mysql_real_connect(m, FLAGS_host.c_str(), FLAGS_user.c_str(), FLAGS_password.c_str(),
                         FLAGS_db.c_str(), port, nullptr, 0) == nullptr) {
    fprintf(stderr, "connect to %s:%d: %s\n", FLAGS_host.c_str(), port, mysql_error(m));
    mysql_close(m);
    return nullptr;
  }
  return m;
}

// Runs a query returning one row of one column; false on error. *value is "" for NULL or no row.
bool QueryOne(MYSQL* m, const std::string& sql, std::string* value, bool* has_row) {
  if (mysql_query(m, sql.c_str()) != 0) {
    fprintf(stderr, "%s: %s\n", sql.c_str(), mysql_error(m));
    return false;
  }
  MYSQL_RES* res = mysql_store_result(m);
  if (res == nullptr) {
    fprintf(stderr, "%s: no result: %s\n", sql.c_str(), mysql_error(m));
    return false;
  }
  MYSQL_ROW row = mysql_fetch_row(res);
  *has_row = row != nullptr;
  *value = (row != nullptr && row[0] != nullptr) ? row[0] : "";
  mysql_free_result(res);
  return true;
}

double Percentile(std::vector<double> v, double p) {  // nearest rank, like the load generator
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

struct Sample {
  unsigned long long id;
  Clock::time_point acked;
};

int RunProbe() {
  mysql_library_init(0, nullptr, nullptr);
  MYSQL* primary = Connect(FLAGS_primary_port);
  MYSQL* replica = Connect(FLAGS_replica_port);
  if (primary == nullptr || replica == nullptr) return 1;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  std::mutex mu;
  std::deque<Sample> queue;
  std::atomic<bool> writer_done{false};
  std::atomic<unsigned long long> writes{0}, write_errors{0};
  const auto interval = std::chrono::duration<double, std::milli>(FLAGS_sample_ms);
  const auto poll = std::chrono::duration<double, std::milli>(FLAGS_poll_ms);
  const auto lag_timeout = std::chrono::duration<double>(FLAGS_lag_timeout_s);

  std::thread writer([&] {
    std::mt19937_64 rng(42);
    const auto end = Clock::now() + std::chrono::duration<double>(FLAGS_duration_s);
    auto next = Clock::now();
    while (!g_stop.load() && Clock::now() < end) {
      std::string content(32, 'x');
      for (char& c : content) c = static_cast<char>('a' + rng() % 26);
      const std::string sql = "INSERT INTO records(content) VALUES ('" + content + "')";
      if (mysql_query(primary, sql.c_str()) != 0) {
        write_errors++;
        fprintf(stderr, "probe insert: %s\n", mysql_error(primary));
      } else {
        const auto acked = Clock::now();
        writes++;
        std::lock_guard<std::mutex> lock(mu);
        queue.push_back({static_cast<unsigned long long>(mysql_insert_id(primary)), acked});
      }
      next += std::chrono::duration_cast<Clock::duration>(interval);
      const auto now = Clock::now();
      if (next < now) next = now;  // fell behind (slow commits): do not burst
      std::this_thread::sleep_until(next);
    }
    writer_done.store(true);
  });

  std::vector<double> lag_us;
  unsigned long long timeouts = 0, poll_errors = 0;
  while (true) {
    Sample s;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (queue.empty()) {
        if (writer_done.load()) break;
        s.id = 0;
      } else {
        s = queue.front();
      }
    }
    if (s.id == 0) {
      std::this_thread::sleep_for(poll);
      continue;
    }
    std::string v;
    bool has_row = false;
    const bool ok = QueryOne(replica, "SELECT 1 FROM records WHERE id = " + std::to_string(s.id),
                             &v, &has_row);
    const auto now = Clock::now();
    if (!ok) poll_errors++;
    if (ok && has_row) {
      lag_us.push_back(std::chrono::duration<double, std::micro>(now - s.acked).count());
    } else if (now - s.acked > lag_timeout) {
      timeouts++;
    } else {
      std::this_thread::sleep_for(poll);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu);
    queue.pop_front();
  }
  writer.join();
  printf("{\"lag_samples\":%zu,\"lag_timeouts\":%llu,\"lag_p50_ms\":%.3f,\"lag_p95_ms\":%.3f,"
         "\"lag_p99_ms\":%.3f,\"lag_max_ms\":%.3f,\"probe_writes\":%llu,\"probe_errors\":%llu,"
         "\"poll_errors\":%llu}\n",
         lag_us.size(), timeouts, Percentile(lag_us, 50) / 1000, Percentile(lag_us, 95) / 1000,
         Percentile(lag_us, 99) / 1000, Percentile(lag_us, 100) / 1000, writes.load(),
         write_errors.load(), poll_errors);
  mysql_close(primary);
  mysql_close(replica);
  mysql_library_end();
  return 0;
}

int RunCatchup() {
  const double since = FLAGS_since_unix_s > 0 ? FLAGS_since_unix_s : NowUnix();
  mysql_library_init(0, nullptr, nullptr);
  MYSQL* primary = Connect(FLAGS_primary_port);
  MYSQL* replica = Connect(FLAGS_replica_port);
  if (primary == nullptr || replica == nullptr) return 1;
  std::string pos, wait;
  bool has_row = false;
  if (!QueryOne(primary, "SELECT @@gtid_binlog_pos", &pos, &has_row)) return 1;
  char sql[256];
  snprintf(sql, sizeof(sql), "SELECT MASTER_GTID_WAIT('%s', %.3f)", pos.c_str(), FLAGS_timeout_s);
  if (!QueryOne(replica, sql, &wait, &has_row)) return 1;
  const double seconds = NowUnix() - since;
  const bool reached = wait == "0";
  printf("{\"catchup_s\":%.4f,\"gtid_binlog_pos\":\"%s\",\"reached\":%s}\n",
         reached ? seconds : -1.0, pos.c_str(), reached ? "true" : "false");
  mysql_close(primary);
  mysql_close(replica);
  mysql_library_end();
  return reached ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("replication lag / catch-up of a native MariaDB primary + replica");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_mode == "probe") return RunProbe();
  if (FLAGS_mode == "catchup") return RunCatchup();
  fprintf(stderr, "--mode must be probe or catchup\n");
  return 2;
}
