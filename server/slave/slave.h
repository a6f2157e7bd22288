// Slave: the replica side of semi-synchronous replication (MySQL's IO thread + SQL thread).
//
// A Slave copies the master's binlog into its own relay log (a SegmentedLog under
// <data_dir>/relay, prefix "relay") and applies it to its database (a Storage, not owned).
//
// Threads owned (all started by StartSync, stopped and joined by StopSync):
//   - receiver ("IO thread", relay_receiver.cc): RegisterSlave, then SubscribeBinlog after the last
//     position it holds, on its own completion queue: appends every message's events to the relay
//     log, and once no further message is waiting, fsyncs once (group commit), publishes the
//     durable position as the received position and acknowledges it to the master without waiting
//     for the answer (up to 4 Acks in flight, each carrying the latest durable position).
//     Only durable positions are acked or applied. It also keeps the "confirmed" position, how far
//     the master says its binlog is durable (SubscribeBinlogResponse.durable_position and
//     heartbeats): an idle master sends a write before its own fsync, and the applier applies
//     nothing past the confirmed position. Reconnects with exponential backoff when the stream
//     ends or fails; it subscribes naming its last event, and when the master refuses (ABORTED:
//     it does not hold that event, having lost what it sent ahead of a crash) it cuts the relay
//     log back to the confirmed position and subscribes again. When nothing has been heard from
//     the master for apply_unconfirmed_after, everything received becomes confirmed (it may hold
//     acknowledged writes whose durability report died with the master).
//   - acker (slave.cc): re-sends what the receiver could not acknowledge (after a failed Ack or a
//     reconnection), and the applied position every ack_interval when it changed. It is also the
//     dead-link watchdog: it cancels the stream when neither an event nor a heartbeat arrived for
//     heartbeat_timeout.
//   - applier ("SQL thread", applier.cc): reads the durable relay log from the database's applied
//     position and applies batches with Storage::ApplyBatch, which commits rows and position in one
//     transaction. An event that fails on its own is counted and skipped (default) or stops the
//     applier (stop_on_apply_error) before it.
//   - relay purger (applier.cc, runs with the applier): about once a second, when a whole relay
//     segment is applied, makes the database durable (Storage::SyncToDisk: on MariaDB a wait for
//     InnoDB's log flush, up to a second) and deletes the segment. On its own thread, so the
//     applier never waits for that sync.
//
// Crash safety: the database position is the truth for what was applied and the relay log for what
// was received; the receiver resumes after max(relay end, applied), the applier after applied, and
// applying is idempotent, so a SIGKILL at any point leaves no gap and no duplicate. Events that
// arrived ahead of the master's fsync are marked so in the relay log
// (BinlogEvent.relay_master_durable_position): after a restart the relay log counts as confirmed
// up to the durable end its last event arrived with, and the rest is applied once the master
// accepts the subscription after it (its first message, sent at once, says so).
//
// The master's uuid is remembered in <data_dir>/master_uuid on first registration; a master that
// answers with another uuid is refused (last_io_error) rather than mixing two masters' positions.
//
// Thread-safety: every public method is thread-safe. StartSync/StopSync are serialized. No lock is
// held across a gRPC or Storage call. The Storage must outlive the Slave.
#ifndef SEMISYNC_SERVER_SLAVE_SLAVE_H_
#define SEMISYNC_SERVER_SLAVE_SLAVE_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/gtid.h"
#include "common/segmented_log.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "semisync/v1/replication.grpc.pb.h"
#include "semisync/v1/slave.pb.h"
#include "server/storage/storage.h"

namespace semisync {

struct SlaveOptions {
  // Unique, stable id sent to the master ([A-Za-z0-9_.-]{1,64}).
  std::string slave_id = "slave1";
  // The master's ReplicationService, "host:port".
  std::string master_address = "127.0.0.1:50051";
  // Where this slave serves its API, reported to the master for status displays.
  std::string advertise_address;
  // Holds relay/ and master_uuid. Created if missing.
  std::string data_dir;
  // Relay log segment size before rotation, bytes.
  uint64_t relay_log_segment_bytes = 64ull << 20;
  // Take part in semi-sync acknowledgement.
  bool semi_sync = true;
  // Stop the applier on an event that fails to apply instead of skipping it.
  bool stop_on_apply_error = false;
  // Delay before reconnecting to the master: doubles from min up to max after each failure.
  absl::Duration reconnect_backoff_min = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(10);
  // The link is declared dead when nothing (neither events nor heartbeat) arrived for this long.
  absl::Duration heartbeat_timeout = absl::Seconds(5);
  // Applied-position acks are sent at most this often (received-position acks are immediate).
  absl::Duration ack_interval = absl::Milliseconds(500);
  // Deadline of each Ack and RegisterSlave call.
  absl::Duration rpc_timeout = absl::Seconds(2);
  // Applier batch limits.
  size_t apply_batch_events = 1000;
  size_t apply_batch_bytes = 4u << 20;
  // While events arrive in groups (a relay-log sync making several durable at once: the master
  // is group-committing concurrent writes), the applier begins a batch at most once per this
  // interval (sooner when apply_batch_events are waiting), so that a busy slave commits fewer,
  // larger transactions to its database. Events that arrive one by one, or after a quieter
  // interval, are applied at once. Costs at most this much replication lag under load. Zero:
  // every batch as soon as it is durable.
  absl::Duration apply_batch_delay = absl::Milliseconds(2);
  // Events the master sent ahead of its fsync wait to be reported durable before they are
  // applied. When nothing has been heard from the master for this long, the slave applies them
  // anyway: they may be writes its clients saw acknowledged (the report was lost with the
  // master), and a slave must not sit on those. A master that comes back without them (it lost
  // them in an OS crash) is then reported as diverged rather than followed.
  absl::Duration apply_unconfirmed_after = absl::Seconds(10);
};

class Slave {
 public:
  // Opens (and recovers) the relay log and reads the applied position from `storage`. Does not
  // start replication: call StartSync. `storage` must outlive the Slave.
  static absl::StatusOr<std::unique_ptr<Slave>> Create(const SlaveOptions& options,
                                                       Storage* storage);
  ~Slave();  // Shutdown()

  Slave(const Slave&) = delete;
  Slave& operator=(const Slave&) = delete;

  // START SLAVE: starts the receiver (with the acker) and the applier, whichever is not running.
  // Idempotent. An applier stopped on an apply error retries the failing event.
  absl::Status StartSync();
  // STOP SLAVE: stops every thread (cancelling the in-flight stream) and waits for them. Idempotent.
  absl::Status StopSync();
  // SHOW SLAVE STATUS.
  v1::SlaveStatus Status() const;
  // StopSync, then fsync the relay log. Idempotent.
  void Shutdown();

  // Sets the address reported to the master (when it is only known once the server is bound).
  // Takes effect at the next registration.
  void SetAdvertiseAddress(const std::string& address);

  const SlaveOptions& options() const { return options_; }

 private:
  Slave(const SlaveOptions& options, Storage* storage);
  absl::Status Init();

  // relay_receiver.cc
  void ReceiverLoop();
  // One connection: register, check the master's uuid, stream until the stream ends. Sets
  // *progress when at least one message arrived. A non-OK `*fatal` stops the receiver for good
  // (relay log write failure).
  absl::Status ReceiveOnce(bool* progress, absl::Status* fatal);
  absl::Status CheckMasterUuid(const std::string& uuid);
  absl::Status AppendToRelayLog(const v1::SubscribeBinlogResponse& msg, uint64_t expected_first);
  // The relay log is durable up to `durable`: publishes it to the applier and the acker.
  void DurableLocked(uint64_t durable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What the applier may apply: durable here and reported durable by the master.
  uint64_t ApplicableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::min(received_position_, confirmed_position_);
  }
  // The identity (gtid, timestamp) of the event at `position`, the last one held (relay log, or
  // the database's applied state), for SubscribeBinlogRequest.
  absl::Status IdentifyLastEvent(uint64_t position, v1::SubscribeBinlogRequest* req);
  // The master refused the subscription (ABORTED): the relay log holds events it
  // does not have durably. Drops the events the master never reported durable; an error when
  // there are none to drop (the slave and the master diverge).
  absl::Status DropUnconfirmedEvents(const grpc::Status& refusal);
  // Between connection attempts: when nothing was heard from the master for
  // apply_unconfirmed_after, the events it never reported durable become applicable.
  void ConfirmIfMasterLostLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The relay log's event at `position`.
  absl::Status ReadRelayEvent(uint64_t position, v1::BinlogEvent* event) const;
  // executed + the GTIDs of the relay log's events after `applied`.
  absl::StatusOr<GtidSet> RetrievedGtids(const GtidSet& executed, uint64_t applied) const;
  struct AckCall;
  // The SubscribeBinlog stream (see relay_receiver.cc): returns its final status; *last is the
  // last position appended; *result / *fatal as in ReceiveOnce.
  grpc::Status Stream(grpc::ClientContext* ctx, const v1::SubscribeBinlogRequest& req,
                      uint64_t* last, bool* progress, absl::Status* fatal, absl::Status* result);
  absl::Status OnStreamMessage(const v1::SubscribeBinlogResponse& msg, uint64_t* last);

  // slave.cc
  void AckerLoop();
  // The Ack of the current positions, and what a successful one tells (receiver and acker).
  v1::AckRequest AckRequestLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `truncations`: relay_truncations_ when the Ack was built.
  void AckedLocked(const v1::AckRequest& req, const v1::AckResponse& resp, uint64_t truncations)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until `d` passed or the IO side is told to stop. Returns false when stopping.
  bool SleepUnlessIoStopped(absl::Duration d);

  // applier.cc
  void ApplierLoop();
  struct ApplyOutcome;
  // Applies `events` (all with position > applied) starting from *state; updates *state.
  ApplyOutcome ApplyEvents(const std::vector<v1::BinlogEvent>& events, ReplState* state,
                           GtidSet* executed);
  // Relay purger: about once a second, deletes the relay segments the database holds durably.
  void RelayPurgerLoop();
  void MaybePurgeRelayLog(uint64_t applied);

  bool IoShouldStopLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_io_; }
  std::string Who() const { return "slave " + options_.slave_id + ": "; }

  const SlaveOptions options_;
  Storage* const storage_;
  std::unique_ptr<SegmentedLog> relay_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReplicationService::Stub> stub_;

  // Serializes StartSync/StopSync/Shutdown (held while joining threads; never taken by them).
  absl::Mutex control_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread receiver_ ABSL_GUARDED_BY(control_mu_);
  std::thread acker_ ABSL_GUARDED_BY(control_mu_);
  std::thread applier_ ABSL_GUARDED_BY(control_mu_);
  std::thread relay_purger_ ABSL_GUARDED_BY(control_mu_);
  bool shut_down_ ABSL_GUARDED_BY(control_mu_) = false;

  // Serializes writes to the relay log (receiver's Append, relay purger's PurgeBefore); the
  // receiver's Sync runs concurrently with a purge (SegmentedLog allows it).
  absl::Mutex relay_write_mu_ ABSL_ACQUIRED_AFTER(mu_);

  mutable absl::Mutex mu_;
  // Thread control.
  bool io_running_ ABSL_GUARDED_BY(mu_) = false;
  bool sql_running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_io_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_sql_ ABSL_GUARDED_BY(mu_) = false;
  // The RegisterSlave/SubscribeBinlog call in flight (cancelled by StopSync and the watchdog).
  std::shared_ptr<grpc::ClientContext> call_ctx_ ABSL_GUARDED_BY(mu_);
  // The Ack call in flight (cancelled by StopSync).
  std::shared_ptr<grpc::ClientContext> ack_ctx_ ABSL_GUARDED_BY(mu_);
  // Receiver state.
  std::string advertise_address_ ABSL_GUARDED_BY(mu_);
  std::string master_uuid_ ABSL_GUARDED_BY(mu_);  // as stored in data_dir/master_uuid
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;   // SubscribeBinlog open
  bool stream_timed_out_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;   // a message arrived on the open stream
  bool registered_ ABSL_GUARDED_BY(mu_) = false;  // the master knows us (acks make sense)
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  // The last stream message (or the slave's start): apply_unconfirmed_after counts from here.
  absl::Time last_message_ ABSL_GUARDED_BY(mu_);
  uint64_t received_position_ ABSL_GUARDED_BY(mu_) = 0;  // durable in the relay log
  // The master reported its binlog durable up to here (events after it were sent ahead of its
  // fsync): the applier applies nothing past it, and a refused subscription drops what is past
  // it from the relay log.
  uint64_t confirmed_position_ ABSL_GUARDED_BY(mu_) = 0;
  // Times the relay log was truncated (DropUnconfirmedEvents): the applier then reopens its
  // reader, whose buffer may hold the dropped bytes.
  uint64_t relay_truncations_ ABSL_GUARDED_BY(mu_) = 0;
  // Since the applier's last batch began, one relay-log sync made more than one event durable:
  // the master is committing groups (concurrent writers), and the applier's batch delay applies.
  bool grouped_since_batch_ ABSL_GUARDED_BY(mu_) = false;
  GtidSet retrieved_ ABSL_GUARDED_BY(mu_);
  uint64_t master_end_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_io_error_ ABSL_GUARDED_BY(mu_);
  // Applier state.
  ReplState applied_ ABSL_GUARDED_BY(mu_);
  std::string last_sql_error_ ABSL_GUARDED_BY(mu_);
  uint64_t apply_errors_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t apply_transactions_ ABSL_GUARDED_BY(mu_) = 0;
  // Acker state: what the master was last told successfully.
  uint64_t acked_received_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_applied_ ABSL_GUARDED_BY(mu_) = 0;
  bool force_ack_ ABSL_GUARDED_BY(mu_) = false;  // after (re)registration
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_SLAVE_SLAVE_H_
