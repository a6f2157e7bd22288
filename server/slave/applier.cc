// Slave's applier ("SQL thread"): reads the durable relay log after the database's applied
// position and applies it in batches; each batch commits its rows and the new position together.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "glog/logging.h"
#include "server/slave/slave.h"

namespace semisync {
namespace {

// Errors that say the database is unavailable rather than that the event is bad: retried.
bool IsTransient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsAborted(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsResourceExhausted(s);
}

// The state after applying (or skipping) `events` (at least one) on top of `state`; their GTIDs
// join `executed`, which is written out once for the whole batch.
ReplState Advance(const ReplState& state, absl::Span<const v1::BinlogEvent> events,
                  GtidSet* executed) {
  for (const v1::BinlogEvent& e : events) {
    absl::StatusOr<Gtid> gtid = Gtid::Parse(e.gtid());
    if (gtid.ok()) executed->Add(*gtid);
  }
  const v1::BinlogEvent& last = events.back();
  ReplState next = state;
  next.applied_position = last.position();
  next.applied_gtid = last.gtid();
  next.applied_timestamp_us = last.timestamp_us();
  next.executed_gtid_set = executed->ToString();
  return next;
}

constexpr absl::Duration kTransientRetry = absl::Milliseconds(500);
constexpr absl::Duration kPurgeInterval = absl::Seconds(1);

}  // namespace

struct Slave::ApplyOutcome {
  enum Kind { kApplied, kRetry, kStop } kind = kApplied;
};

void Slave::ApplierLoop() {
  ReplState state;
  {
    absl::MutexLock lock(&mu_);
    state = applied_;
  }
  GtidSet executed;
  if (absl::StatusOr<GtidSet> parsed = GtidSet::Parse(state.executed_gtid_set); parsed.ok()) {
    executed = *std::move(parsed);
  }
  std::unique_ptr<LogReader> reader;  // opened lazily at `state.applied_position`
  uint64_t truncations = 0;            // relay_truncations_ when `reader` was opened
  auto wake = [this, &state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_sql_ || ApplicableLocked() > state.applied_position;
  };
  auto full_batch = [this, &state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_sql_ || ApplicableLocked() >= state.applied_position + options_.apply_batch_events;
  };
  absl::Time last_batch = absl::InfinitePast();  // when the last batch began
  auto stop_with_error = [this](const std::string& error) {
    LOG(ERROR) << Who() << "applier stopped: " << error;
    absl::MutexLock lock(&mu_);
    last_sql_error_ = error;
    sql_running_ = false;
  };
  while (true) {
    uint64_t durable = 0;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      // Under load (events arriving in groups) batches begin no closer than apply_batch_delay:
      // what arrives meanwhile joins this one.
      if (ApplicableLocked() > state.applied_position && grouped_since_batch_) {
        mu_.AwaitWithDeadline(absl::Condition(&full_batch),
                              last_batch + options_.apply_batch_delay);
      }
      if (stop_sql_) break;
      grouped_since_batch_ = false;
      durable = ApplicableLocked();
      if (relay_truncations_ != truncations) {
        truncations = relay_truncations_;
        reader.reset();  // its buffer may hold dropped bytes
      }
    }
    if (durable <= state.applied_position) continue;
    if (!reader) {
      absl::StatusOr<std::unique_ptr<LogReader>> r = relay_->NewReader(state.applied_position);
      if (!r.ok()) {
        stop_with_error(absl::StrCat("cannot read the relay log after position ",
                                     state.applied_position, ": ", r.status().message()));
        return;
      }
      reader = *std::move(r);
    }
    std::vector<LogRecord> records;
    absl::Status rs = reader->Read(durable, options_.apply_batch_events,
                                   options_.apply_batch_bytes, &records);
    if (!rs.ok()) {
      stop_with_error(absl::StrCat("relay log read after position ", reader->position(),
                                   " failed: ", rs.message()));
      return;
    }
    std::vector<v1::BinlogEvent> events;
    events.reserve(records.size());
    bool corrupt = false;
    for (const LogRecord& r : records) {
      if (r.position <= state.applied_position) continue;  // already applied
      v1::BinlogEvent e;
      if (!e.ParseFromString(r.payload) || e.position() != r.position) {
        stop_with_error(absl::StrCat("relay log record at position ", r.position,
                                     " is not a valid event"));
        corrupt = true;
        break;
      }
      events.push_back(std::move(e));
    }
    if (corrupt) return;
    if (events.empty()) continue;

    last_batch = absl::Now();
    ApplyOutcome outcome = ApplyEvents(events, &state, &executed);
    if (outcome.kind == ApplyOutcome::kStop) return;
    if (outcome.kind == ApplyOutcome::kRetry) {
      // Re-read from the last applied position after a pause.
      reader.reset();
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_sql_), kTransientRetry);
      continue;
    }
  }
  VLOG(1) << Who() << "applier exiting";
}

Slave::ApplyOutcome Slave::ApplyEvents(const std::vector<v1::BinlogEvent>& events,
                                       ReplState* state, GtidSet* executed) {
  // Fast path: the whole batch in one transaction.
  GtidSet batch_executed = *executed;
  ReplState batch_state = Advance(*state, absl::MakeConstSpan(events), &batch_executed);
  absl::Status s = storage_->ApplyBatch(absl::MakeConstSpan(events), batch_state);
  if (s.ok()) {
    *state = std::move(batch_state);
    *executed = std::move(batch_executed);
    VLOG(1) << Who() << "applied " << events.size() << " events up to "
            << state->applied_position;
    absl::MutexLock lock(&mu_);
    applied_ = *state;
    ++apply_transactions_;
    return {ApplyOutcome::kApplied};
  }
  if (IsTransient(s)) {
    LOG(WARNING) << Who() << "database unavailable applying up to position "
                 << batch_state.applied_position << ": " << s.message() << "; retrying";
    absl::MutexLock lock(&mu_);
    last_sql_error_ = std::string(s.message());
    return {ApplyOutcome::kRetry};
  }
  // Slow path: one event at a time, to find (and skip or stop at) the failing ones.
  for (const v1::BinlogEvent& e : events) {
    GtidSet next_executed = *executed;
    ReplState next = Advance(*state, absl::MakeConstSpan(&e, 1), &next_executed);
    s = storage_->ApplyBatch(absl::MakeConstSpan(&e, 1), next);
    if (!s.ok() && IsTransient(s)) {
      absl::MutexLock lock(&mu_);
      last_sql_error_ = std::string(s.message());
      return {ApplyOutcome::kRetry};
    }
    if (!s.ok()) {
      const std::string error = absl::StrCat("position ", e.position(), " (gtid ", e.gtid(),
                                             "): ", s.message());
      if (options_.stop_on_apply_error) {
        LOG(ERROR) << Who() << "apply failed at " << error << "; applier stopped";
        absl::MutexLock lock(&mu_);
        ++apply_errors_;
        last_sql_error_ = error;
        sql_running_ = false;
        return {ApplyOutcome::kStop};
      }
      // Skip: advance the position past the event without its rows. If even that fails, the
      // database (not the event) is the problem: retry later without counting a skip.
      absl::Status skip = storage_->ApplyBatch({}, next);
      if (!skip.ok()) {
        LOG(WARNING) << Who() << "cannot record skipping position " << e.position() << ": "
                     << skip.message() << "; retrying";
        absl::MutexLock lock(&mu_);
        last_sql_error_ = std::string(skip.message());
        return {ApplyOutcome::kRetry};
      }
      LOG(ERROR) << Who() << "apply failed at " << error << "; event skipped";
      absl::MutexLock lock(&mu_);
      ++apply_errors_;
      last_sql_error_ = error;
    }
    *state = std::move(next);
    *executed = std::move(next_executed);
    absl::MutexLock lock(&mu_);
    applied_ = *state;
    ++apply_transactions_;
  }
  return {ApplyOutcome::kApplied};
}

void Slave::RelayPurgerLoop() {
  uint64_t purged_before = 0;
  while (true) {
    uint64_t applied = 0;
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_sql_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), kPurgeInterval)) return;
      applied = applied_.applied_position;
    }
    if (applied > purged_before) {
      purged_before = applied;
      MaybePurgeRelayLog(applied);
    }
  }
}

void Slave::MaybePurgeRelayLog(uint64_t applied) {
  // The relay log may only lose what the database holds durably (commits are not fsynced); the
  // database sync may take a while (a MariaDB redo-log flush is up to a second away), so it runs
  // only when a whole segment is applied and due.
  {
    absl::MutexLock lock(&relay_write_mu_);
    absl::StatusOr<int> due = relay_->PurgeBefore(applied + 1, /*dry_run=*/true);
    if (!due.ok() || *due == 0) return;
  }
  if (absl::Status s = storage_->SyncToDisk(); !s.ok()) {
    LOG(WARNING) << Who() << "relay log purge skipped: database sync failed: " << s.message();
    return;
  }
  absl::StatusOr<int> purged;
  {
    absl::MutexLock lock(&relay_write_mu_);
    purged = relay_->PurgeBefore(applied + 1);
  }
  if (!purged.ok()) {
    LOG(WARNING) << Who() << "relay log purge failed: " << purged.status().message();
  } else if (*purged > 0) {
    VLOG(1) << Who() << "purged " << *purged << " applied relay log segments";
  }
}

}  // namespace semisync
