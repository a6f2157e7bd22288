// The replication metrics of a master and of a slave, read at scrape time from the node's status
// snapshot (Master::Status() / Slave::Status()) rather than duplicated as separate state: one
// status call per scrape feeds every family below. The full list, with units, is in
// docs/operations.md.
//
// Master:
//   rpl_semi_sync_master_*                 MySQL's Rpl_semi_sync_master_* status variables
//                                          (counters end in _total, times are in seconds)
//   semisync_master_binlog_{end,oldest}_position, semisync_master_binlog_bytes,
//   semisync_master_applied_position
//   semisync_master_slave_{acked_position,applied_position,lag_events,lag_seconds,connected,
//                          semi_sync}{slave_id}
// Slave:
//   semisync_slave_{received,applied,master_binlog_end}_position, semisync_slave_lag_events,
//   semisync_slave_lag_seconds, semisync_slave_apply_errors_total, semisync_slave_io_running,
//   semisync_slave_sql_running, semisync_slave_connected, semisync_slave_relay_log_bytes
//
// Thread-safety: the status functions are called on the scraping thread, possibly concurrently.
#ifndef SEMISYNC_SERVER_METRICS_NODE_METRICS_H_
#define SEMISYNC_SERVER_METRICS_NODE_METRICS_H_

#include <functional>
#include <vector>

#include "semisync/v1/replication.pb.h"
#include "semisync/v1/slave.pb.h"
#include "server/metrics/metrics.h"

namespace semisync {
namespace metrics {

// The families for one status snapshot (pure; exposed for tests).
std::vector<MetricFamily> MasterStatusFamilies(const v1::MasterStatus& status);
std::vector<MetricFamily> SlaveStatusFamilies(const v1::SlaveStatus& status);

// Registers a collector that calls `status` once per scrape.
void AddMasterCollector(Registry* registry, std::function<v1::MasterStatus()> status);
void AddSlaveCollector(Registry* registry, std::function<v1::SlaveStatus()> status);

}  // namespace metrics
}  // namespace semisync

#endif  // SEMISYNC_SERVER_METRICS_NODE_METRICS_H_
