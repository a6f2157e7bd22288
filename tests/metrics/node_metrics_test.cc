// Tests for the master's and slave's replication metrics (server/metrics/node_metrics.h) and the
// slave's health predicate (server/node_health.h).
#include "server/metrics/node_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/metrics.h"
#include "server/metrics/text_format.h"
#include "server/node_health.h"

namespace semisync {
namespace metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::MasterStatus SampleMasterStatus() {
  v1::MasterStatus s;
  s.set_role("master");
  s.set_server_uuid("uuid-1");
  s.set_binlog_end_position(120);
  s.set_oldest_position(1);
  s.set_binlog_bytes(4096);
  s.set_applied_position(118);
  s.mutable_semi_sync_config()->set_enabled(true);
  s.mutable_semi_sync_config()->set_timeout_ms(1500);
  s.mutable_semi_sync_config()->set_wait_for_slave_count(1);
  v1::SemiSyncCounters* k = s.mutable_semi_sync();
  k->set_clients(2);
  k->set_status(true);
  k->set_yes_tx(100);
  k->set_no_tx(3);
  k->set_no_times(1);
  k->set_wait_sessions(4);
  k->set_tx_waits(90);
  k->set_tx_wait_time_us(2500000);
  k->set_tx_avg_wait_time_us(250);
  k->set_net_waits(80);
  k->set_net_wait_time_us(1000);
  k->set_net_avg_wait_time_us(12);
  k->set_wait_pos_backtraverse(5);
  v1::SlaveInfo* a = s.add_slaves();
  a->set_slave_id("slave1");
  a->set_connected(true);
  a->set_semi_sync(true);
  a->set_acked_position(120);
  a->set_applied_position(119);
  a->set_lag_events(1);
  a->set_lag_seconds(0.5);
  v1::SlaveInfo* b = s.add_slaves();
  b->set_slave_id("slave2");
  b->set_acked_position(100);
  return s;
}

TEST(MasterMetricsTest, ExportsSemiSyncCountersWithPrometheusNamesAndUnits) {
  const std::string text = RenderText(MasterStatusFamilies(SampleMasterStatus()));
  for (const char* line : {"rpl_semi_sync_master_clients 2\n",
                           "rpl_semi_sync_master_status 1\n",
                           "rpl_semi_sync_master_yes_tx_total 100\n",
                           "rpl_semi_sync_master_no_tx_total 3\n",
                           "rpl_semi_sync_master_no_times_total 1\n",
                           "rpl_semi_sync_master_wait_sessions 4\n",
                           "rpl_semi_sync_master_tx_waits_total 90\n",
                           "rpl_semi_sync_master_tx_wait_seconds_total 2.5\n",
                           "rpl_semi_sync_master_tx_avg_wait_seconds 0.00025\n",
                           "rpl_semi_sync_master_net_waits_total 80\n",
                           "rpl_semi_sync_master_net_wait_seconds_total 0.001\n",
                           "rpl_semi_sync_master_net_avg_wait_seconds 1.2e-05\n",
                           "rpl_semi_sync_master_wait_pos_backtraverse_total 5\n",
                           "rpl_semi_sync_master_enabled 1\n",
                           "rpl_semi_sync_master_timeout_seconds 1.5\n",
                           "# TYPE rpl_semi_sync_master_yes_tx_total counter\n",
                           "# TYPE rpl_semi_sync_master_status gauge\n",
                           "semisync_master_binlog_end_position 120\n",
                           "semisync_master_binlog_oldest_position 1\n",
                           "semisync_master_binlog_bytes 4096\n",
                           "semisync_master_applied_position 118\n",
                           "semisync_node_info{role=\"master\",server_uuid=\"uuid-1\"} 1\n"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(MasterMetricsTest, ExportsOneSeriesPerSlave) {
  const std::string text = RenderText(MasterStatusFamilies(SampleMasterStatus()));
  for (const char* line : {"semisync_master_slave_acked_position{slave_id=\"slave1\"} 120\n",
                           "semisync_master_slave_acked_position{slave_id=\"slave2\"} 100\n",
                           "semisync_master_slave_applied_position{slave_id=\"slave1\"} 119\n",
                           "semisync_master_slave_lag_events{slave_id=\"slave1\"} 1\n",
                           "semisync_master_slave_lag_seconds{slave_id=\"slave1\"} 0.5\n",
                           "semisync_master_slave_connected{slave_id=\"slave1\"} 1\n",
                           "semisync_master_slave_connected{slave_id=\"slave2\"} 0\n",
                           "semisync_master_slave_semi_sync{slave_id=\"slave2\"} 0\n"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(MasterMetricsTest, EveryFamilyHasValidNameHelpAndCounterSuffix) {
  for (const MetricFamily& f : MasterStatusFamilies(SampleMasterStatus())) {
    EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_EQ(f.type == MetricType::kCounter, absl::EndsWith(f.name, "_total")) << f.name;
  }
}

v1::SlaveStatus SampleSlaveStatus() {
  v1::SlaveStatus s;
  s.set_slave_id("slave1");
  s.set_master_uuid("uuid-1");
  s.set_io_running(true);
  s.set_sql_running(true);
  s.set_connected(true);
  s.set_retrieved_position(120);
  s.set_executed_position(117);
  s.set_master_binlog_end_position(121);
  s.set_seconds_behind_master(2);
  s.set_lag_events(4);
  s.set_apply_errors(1);
  s.set_relay_log_bytes(2048);
  s.set_apply_transactions(9);
  return s;
}

TEST(SlaveMetricsTest, ExportsPositionsLagErrorsAndThreads) {
  const std::string text = RenderText(SlaveStatusFamilies(SampleSlaveStatus()));
  for (const char* line :
       {"semisync_slave_received_position 120\n", "semisync_slave_applied_position 117\n",
        "semisync_slave_master_binlog_end_position 121\n", "semisync_slave_lag_events 4\n",
        "semisync_slave_lag_seconds 2\n", "semisync_slave_apply_errors_total 1\n",
        "semisync_slave_apply_transactions_total 9\n",
        "semisync_slave_io_running 1\n", "semisync_slave_sql_running 1\n",
        "semisync_slave_connected 1\n", "semisync_slave_relay_log_bytes 2048\n",
        "semisync_node_info{role=\"slave\",slave_id=\"slave1\",master_uuid=\"uuid-1\"} 1\n"}) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  for (const MetricFamily& f : SlaveStatusFamilies(SampleSlaveStatus())) {
    EXPECT_TRUE(IsValidMetricName(f.name)) << f.name;
    EXPECT_EQ(f.type == MetricType::kCounter, absl::EndsWith(f.name, "_total")) << f.name;
  }
}

TEST(SlaveMetricsTest, UnknownLagHasNoSample) {
  v1::SlaveStatus s = SampleSlaveStatus();
  s.set_seconds_behind_master(-1);
  const std::string text = RenderText(SlaveStatusFamilies(s));
  EXPECT_THAT(text, HasSubstr("# TYPE semisync_slave_lag_seconds gauge\n"));
  EXPECT_THAT(text, Not(HasSubstr("\nsemisync_slave_lag_seconds ")));
}

TEST(SlaveMetricsTest, CollectorReadsStatusAtEachScrape) {
  Registry r;
  uint64_t applied = 1;
  AddSlaveCollector(&r, [&applied] {
    v1::SlaveStatus s = SampleSlaveStatus();
    s.set_executed_position(applied);
    return s;
  });
  EXPECT_THAT(r.RenderText(), HasSubstr("semisync_slave_applied_position 1\n"));
  applied = 7;
  EXPECT_THAT(r.RenderText(), HasSubstr("semisync_slave_applied_position 7\n"));
}

TEST(SlaveReplicatingTest, ServingOnlyWhileBothThreadsRunWithoutIoError) {
  std::string reason;
  v1::SlaveStatus s = SampleSlaveStatus();
  EXPECT_TRUE(SlaveReplicating(s, &reason));

  s.set_apply_errors(3);
  s.set_last_sql_error("position 9: duplicate key (skipped)");
  EXPECT_TRUE(SlaveReplicating(s, &reason)) << "skipped events do not stop replication";

  v1::SlaveStatus stopped = SampleSlaveStatus();
  stopped.set_io_running(false);
  stopped.set_sql_running(false);
  EXPECT_FALSE(SlaveReplicating(stopped, &reason));
  EXPECT_THAT(reason, HasSubstr("replication stopped"));

  v1::SlaveStatus broken_io = SampleSlaveStatus();
  broken_io.set_last_io_error("connection refused");
  EXPECT_FALSE(SlaveReplicating(broken_io, &reason));
  EXPECT_THAT(reason, HasSubstr("connection refused"));

  v1::SlaveStatus sql_stopped = SampleSlaveStatus();
  sql_stopped.set_sql_running(false);
  sql_stopped.set_last_sql_error("position 9: constraint failed");
  EXPECT_FALSE(SlaveReplicating(sql_stopped, &reason));
  EXPECT_THAT(reason, HasSubstr("applier stopped: position 9"));

  v1::SlaveStatus io_stopped = SampleSlaveStatus();
  io_stopped.set_io_running(false);
  io_stopped.set_last_io_error("relay log fsync failed: EIO");
  EXPECT_FALSE(SlaveReplicating(io_stopped, &reason));
  EXPECT_THAT(reason, HasSubstr("receiver stopped: relay log fsync failed"));
}

}  // namespace
}  // namespace metrics
}  // namespace semisync
