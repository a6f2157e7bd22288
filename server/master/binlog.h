// Binlog: the master's durable binlog of BinlogEvent transactions on top of a SegmentedLog, and
// its durable end (what streams and readers may read up to).
//
// Threads: Append/Sync/AppendDurably/AppendIsWriteOnly/NoteSentAhead are called by whichever
// thread holds the commit pipeline's committer role (one at a time, handed over under the
// pipeline's lock, which orders their accesses to the writer state). Readers
// (NewReader/ReadEvents) and EndPosition run on other threads concurrently.
#ifndef SEMISYNC_SERVER_MASTER_BINLOG_H_
#define SEMISYNC_SERVER_MASTER_BINLOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/segmented_log.h"
#include "semisync/v1/binlog.pb.h"

namespace semisync {

// The executed GTID set of a master whose binlog ends at `end`: "uuid:1-end" ("uuid:1", "").
std::string ExecutedGtidSet(const std::string& uuid, uint64_t end);

// Reads events in position order; see LogReader.
class BinlogReader {
 public:
  explicit BinlogReader(std::unique_ptr<LogReader> reader) : reader_(std::move(reader)) {}
  // Appends up to max_events events with position <= limit (at most ~max_bytes of payload).
  absl::Status Read(uint64_t limit, size_t max_events, size_t max_bytes,
                    std::vector<v1::BinlogEvent>* out);
  uint64_t position() const { return reader_->position(); }

 private:
  std::unique_ptr<LogReader> reader_;
  std::vector<LogRecord> records_;  // reused buffer
};

class Binlog {
 public:
  static absl::StatusOr<std::unique_ptr<Binlog>> Open(const LogOptions& options);

  // Appends events with one write, not yet durable: WrittenPosition() moves, EndPosition() does
  // not. Events must carry consecutive positions after WrittenPosition().
  absl::Status Append(const std::vector<v1::BinlogEvent>& events);
  // Whether Append(events) would only write(2): no segment rotation (fsyncs) and no zero-filling
  // of preallocated space (SegmentedLog::AppendIsWriteOnly). Appending thread.
  bool AppendIsWriteOnly(const std::vector<v1::BinlogEvent>& events) const;
  // Makes everything appended durable (one fsync), then publishes the new durable end.
  absl::Status Sync();
  // Append and Sync: one write and one fsync for the whole group.
  absl::Status AppendDurably(const std::vector<v1::BinlogEvent>& events);

  // Durable end: the last position a reader may read (0 when empty).
  uint64_t EndPosition() const;
  // Last position written (durable or not); events up to it may have been sent to slaves ahead
  // of the fsync.
  uint64_t WrittenPosition() const { return log_->LastPosition(); }
  // Committer role: `events`, written and not yet durable, go to slaves ahead of the fsync;
  // IsUnsyncedEvent knows them until the next Sync.
  void NoteSentAhead(const std::vector<v1::BinlogEvent>& events);
  // True if the event at `position` was sent ahead, is not yet durable and has this timestamp (a
  // slave that received it ahead of the fsync subscribes after it).
  bool IsUnsyncedEvent(uint64_t position, int64_t timestamp_us) const;
  uint64_t OldestPosition() const { return log_->OldestPosition(); }
  uint64_t TotalBytes() const { return log_->TotalBytes(); }


  // A reader for events with position > after; OutOfRange naming the oldest available position
  // if those were purged.
  absl::StatusOr<std::unique_ptr<BinlogReader>> NewReader(uint64_t after) const;
  // Convenience: up to `limit` events after `after` (GetBinlog).
  absl::StatusOr<std::vector<v1::BinlogEvent>> ReadEvents(uint64_t after, size_t limit) const;

  absl::StatusOr<int> PurgeByRetention(uint64_t max_bytes, absl::Duration max_age,
                                       uint64_t must_keep_from, bool dry_run = false);

 private:
  explicit Binlog(std::unique_ptr<SegmentedLog> log);

  std::unique_ptr<SegmentedLog> log_;
  std::vector<LogRecord> scratch_;  // committer thread only
  mutable absl::Mutex mu_;
  uint64_t end_ ABSL_GUARDED_BY(mu_) = 0;
  // The events sent ahead since the last Sync: (position, timestamp_us).
  std::vector<std::pair<uint64_t, int64_t>> unsynced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace semisync

#endif  // SEMISYNC_SERVER_MASTER_BINLOG_H_
