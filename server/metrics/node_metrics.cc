// Master and slave replication metrics from status snapshots (see node_metrics.h).
#include "server/metrics/node_metrics.h"

#include <deque>
#include <iterator>
#include <string>
#include <utility>

namespace semisync {
namespace metrics {
namespace {

// Builds families in order; each Add* starts a family with one unlabelled sample (or none).
class FamilyBuilder {
 public:
  void Counter(std::string name, std::string help, double value) {
    Add(std::move(name), std::move(help), MetricType::kCounter).samples.push_back({"", {}, value});
  }
  void Gauge(std::string name, std::string help, double value) {
    Add(std::move(name), std::move(help), MetricType::kGauge).samples.push_back({"", {}, value});
  }
  // A family whose samples the caller appends (possibly none).
  MetricFamily& Add(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    families_.push_back(std::move(f));
    return families_.back();
  }
  std::vector<MetricFamily> Take() {
    return std::vector<MetricFamily>(std::make_move_iterator(families_.begin()),
                                     std::make_move_iterator(families_.end()));
  }

 private:
  std::deque<MetricFamily> families_;  // a deque: references returned by Add stay valid
};

constexpr double kMicros = 1e-6;

double Bool(bool b) { return b ? 1 : 0; }

}  // namespace

std::vector<MetricFamily> MasterStatusFamilies(const v1::MasterStatus& status) {
  FamilyBuilder b;
  b.Add("semisync_node_info", "This node's role and identity (always 1).", MetricType::kGauge)
      .samples.push_back({"", {{"role", "master"}, {"server_uuid", status.server_uuid()}}, 1});

  const v1::SemiSyncConfig& c = status.semi_sync_config();
  b.Gauge("rpl_semi_sync_master_enabled",
          "rpl_semi_sync_master_enabled: 1 if the master waits for slave acknowledgements.",
          Bool(c.enabled()));
  b.Gauge("rpl_semi_sync_master_timeout_seconds",
          "rpl_semi_sync_master_timeout: how long a commit waits for acks before semi-sync "
          "switches off, seconds.",
          c.timeout_ms() / 1000.0);
  b.Gauge("rpl_semi_sync_master_wait_for_slave_count",
          "rpl_semi_sync_master_wait_for_slave_count: distinct slaves that must acknowledge.",
          c.wait_for_slave_count());

  const v1::SemiSyncCounters& k = status.semi_sync();
  b.Gauge("rpl_semi_sync_master_clients",
          "Rpl_semi_sync_master_clients: semi-sync slaves currently connected.", k.clients());
  b.Gauge("rpl_semi_sync_master_status",
          "Rpl_semi_sync_master_status: 1 when semi-sync is ON, 0 when it switched to "
          "asynchronous replication.",
          Bool(k.status()));
  b.Counter("rpl_semi_sync_master_yes_tx_total",
            "Rpl_semi_sync_master_yes_tx: commits acknowledged by enough slaves.", k.yes_tx());
  b.Counter("rpl_semi_sync_master_no_tx_total",
            "Rpl_semi_sync_master_no_tx: commits not acknowledged (timed out or semi-sync OFF).",
            k.no_tx());
  b.Counter("rpl_semi_sync_master_no_times_total",
            "Rpl_semi_sync_master_no_times: times semi-sync switched OFF.", k.no_times());
  b.Gauge("rpl_semi_sync_master_wait_sessions",
          "Rpl_semi_sync_master_wait_sessions: commits waiting for acknowledgement now.",
          k.wait_sessions());
  b.Counter("rpl_semi_sync_master_tx_waits_total",
            "Rpl_semi_sync_master_tx_waits: commits that slept waiting for acknowledgement.",
            k.tx_waits());
  b.Counter("rpl_semi_sync_master_tx_wait_seconds_total",
            "Rpl_semi_sync_master_tx_wait_time: total time commits waited for acknowledgement, "
            "seconds.",
            k.tx_wait_time_us() * kMicros);
  b.Gauge("rpl_semi_sync_master_tx_avg_wait_seconds",
          "Rpl_semi_sync_master_tx_avg_wait_time: average time a commit waited for "
          "acknowledgement, seconds.",
          k.tx_avg_wait_time_us() * kMicros);
  b.Counter(
      "rpl_semi_sync_master_net_waits_total",
      "Rpl_semi_sync_master_net_waits: semi-sync slave acks that covered a flushed position for "
      "the first time.",
      k.net_waits());
  b.Counter("rpl_semi_sync_master_net_wait_seconds_total",
            "Rpl_semi_sync_master_net_wait_time: total time from a binlog flush to the first ack "
            "covering it, seconds.",
            k.net_wait_time_us() * kMicros);
  b.Gauge("rpl_semi_sync_master_net_avg_wait_seconds",
          "Rpl_semi_sync_master_net_avg_wait_time: average time from a binlog flush to the first "
          "ack covering it, seconds.",
          k.net_avg_wait_time_us() * kMicros);
  b.Counter("rpl_semi_sync_master_wait_pos_backtraverse_total",
            "Rpl_semi_sync_master_wait_pos_backtraverse: commits that waited for a position "
            "lower than an earlier waiter's.",
            k.wait_pos_backtraverse());

  b.Gauge("semisync_master_binlog_end_position",
          "Position of the last event durable in the binlog (events).",
          status.binlog_end_position());
  b.Gauge("semisync_master_binlog_oldest_position",
          "Oldest binlog position still available for streaming (older segments were purged).",
          status.oldest_position());
  b.Gauge("semisync_master_binlog_bytes", "Size of the binlog segment files, bytes.",
          status.binlog_bytes());
  b.Gauge("semisync_master_applied_position",
          "Highest binlog position committed to the master's own database (events).",
          status.applied_position());

  MetricFamily& acked = b.Add("semisync_master_slave_acked_position",
                              "Highest position a slave acknowledged as durable in its relay log.",
                              MetricType::kGauge);
  MetricFamily& applied =
      b.Add("semisync_master_slave_applied_position",
            "Highest position a slave reported applied to its database.", MetricType::kGauge);
  MetricFamily& lag_events =
      b.Add("semisync_master_slave_lag_events",
            "Binlog events a slave has not applied yet (binlog end - applied position).",
            MetricType::kGauge);
  MetricFamily& lag_seconds =
      b.Add("semisync_master_slave_lag_seconds",
            "Age of the oldest event a slave has not applied yet, seconds (0 when caught up).",
            MetricType::kGauge);
  MetricFamily& connected = b.Add("semisync_master_slave_connected",
                                  "1 while a slave's binlog stream is open.", MetricType::kGauge);
  MetricFamily& semi_sync =
      b.Add("semisync_master_slave_semi_sync",
            "1 if a slave takes part in semi-sync acknowledgement, 0 for an asynchronous one.",
            MetricType::kGauge);
  for (const v1::SlaveInfo& s : status.slaves()) {
    const Labels l = {{"slave_id", s.slave_id()}};
    acked.samples.push_back({"", l, static_cast<double>(s.acked_position())});
    applied.samples.push_back({"", l, static_cast<double>(s.applied_position())});
    lag_events.samples.push_back({"", l, static_cast<double>(s.lag_events())});
    lag_seconds.samples.push_back({"", l, s.lag_seconds()});
    connected.samples.push_back({"", l, Bool(s.connected())});
    semi_sync.samples.push_back({"", l, Bool(s.semi_sync())});
  }
  return b.Take();
}

std::vector<MetricFamily> SlaveStatusFamilies(const v1::SlaveStatus& status) {
  FamilyBuilder b;
  b.Add("semisync_node_info", "This node's role and identity (always 1).", MetricType::kGauge)
      .samples.push_back({"",
                          {{"role", "slave"},
                           {"slave_id", status.slave_id()},
                           {"master_uuid", status.master_uuid()}},
                          1});
  b.Gauge("semisync_slave_received_position",
          "Highest master binlog position durable in the relay log (events).",
          status.retrieved_position());
  b.Gauge("semisync_slave_applied_position",
          "Highest master binlog position applied to this slave's database (events).",
          status.executed_position());
  b.Gauge("semisync_slave_master_binlog_end_position",
          "The master's binlog end position as last heard from the master (events).",
          status.master_binlog_end_position());
  b.Gauge("semisync_slave_lag_events",
          "Events behind the master: master binlog end - applied position.", status.lag_events());
  MetricFamily& lag_seconds = b.Add(
      "semisync_slave_lag_seconds",
      "Seconds_Behind_Master: age of the oldest unapplied event, seconds (0 when caught up; no "
      "sample while unknown, i.e. disconnected or applier stopped).",
      MetricType::kGauge);
  if (status.seconds_behind_master() >= 0) {
    lag_seconds.samples.push_back({"", {}, static_cast<double>(status.seconds_behind_master())});
  }
  b.Counter("semisync_slave_apply_errors_total",
            "Events that failed to apply (skipped, or stopped the applier).",
            status.apply_errors());
  b.Counter("semisync_slave_apply_transactions_total",
            "Transactions the applier committed to the database (one per batch of events).",
            status.apply_transactions());
  b.Gauge("semisync_slave_io_running", "Slave_IO_Running: 1 while the receiver thread runs.",
          Bool(status.io_running()));
  b.Gauge("semisync_slave_sql_running", "Slave_SQL_Running: 1 while the applier thread runs.",
          Bool(status.sql_running()));
  b.Gauge("semisync_slave_connected", "1 while the binlog stream from the master is open.",
          Bool(status.connected()));
  b.Gauge("semisync_slave_relay_log_bytes", "Size of the relay log segment files, bytes.",
          status.relay_log_bytes());
  return b.Take();
}

void AddMasterCollector(Registry* registry, std::function<v1::MasterStatus()> status) {
  registry->AddCollector([status = std::move(status)](std::vector<MetricFamily>* out) {
    for (MetricFamily& f : MasterStatusFamilies(status())) out->push_back(std::move(f));
  });
}

void AddSlaveCollector(Registry* registry, std::function<v1::SlaveStatus()> status) {
  registry->AddCollector([status = std::move(status)](std::vector<MetricFamily>* out) {
    for (MetricFamily& f : SlaveStatusFamilies(status())) out->push_back(std::move(f));
  });
}

}  // namespace metrics
}  // namespace semisync
