// Output helpers for semisyncctl: proto3 JSON, aligned tables, key/value listings and timestamps.
// Pure functions (no I/O), so that tests can check them without a server.
#ifndef SEMISYNC_CLIENT_CLI_OUTPUT_H_
#define SEMISYNC_CLIENT_CLI_OUTPUT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/message.h"

namespace semisync {
namespace cli {

// proto3 JSON on one line, proto field names (snake_case), every field printed (also defaults).
// int64/uint64 print as JSON strings (the proto3 JSON rule).
std::string ToJson(const google::protobuf::Message& message);

// "2026-01-02T03:04:05.678Z" (UTC); "-" for 0.
std::string FormatTimeUs(int64_t unix_micros);

// For table cells: control characters escaped (\n, \t, \xNN); longer than max_width display
// characters (0: no limit) cut at a UTF-8 boundary and ended with "...".
std::string CellText(const std::string& s, size_t max_width = 0);

// Display width of a UTF-8 string (code points; good enough for a terminal table).
size_t DisplayWidth(const std::string& s);

// Columns padded to the widest cell, separated by two spaces, one line per row (header first).
// Cells in columns listed in `right_aligned` are right-aligned.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<size_t>& right_aligned = {});

using KeyValues = std::vector<std::pair<std::string, std::string>>;
// "key  value" lines, keys padded to the longest.
std::string FormatKeyValues(const KeyValues& kv);

// Every field of `message` as key/value pairs, in field order: nested messages flattened as
// "parent.child", repeated fields as their element count, enums by name, bools as yes/no, and
// timestamp fields (IsTimestampField) formatted with FormatTimeUs. Repeated fields whose name is in `skip` are left out.
KeyValues MessageKeyValues(const google::protobuf::Message& message,
                           const std::vector<std::string>& skip = {});

// Whether an int64 field named `name` holds a point in time in Unix microseconds (created_at_us,
// updated_at_us, timestamp_us, last_ack_time_us, ...), as opposed to a duration (tx_wait_time_us).
bool IsTimestampField(const std::string& name);

// One progress-bar line for `load` (no newline): the bar and percentage follow `done` of `count`
// operations when count > 0, else the elapsed share of duration_s; then rate and errors.
std::string FormatProgress(int64_t done, int64_t errors, double elapsed_s, int64_t count,
                           double duration_s);

}  // namespace cli
}  // namespace semisync

#endif  // SEMISYNC_CLIENT_CLI_OUTPUT_H_
