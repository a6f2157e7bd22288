// GTIDs ("server_uuid:N") and GTID sets ("uuid:1-5:7-9,uuid2:1-3"), MySQL's notation.
//
// A GtidSet is a value type: not thread-safe, copy it to share.
#ifndef SEMISYNC_COMMON_GTID_H_
#define SEMISYNC_COMMON_GTID_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace semisync {

struct Gtid {
  std::string uuid;
  uint64_t seqno = 0;  // >= 1

  std::string ToString() const;  // "uuid:N"
  static absl::StatusOr<Gtid> Parse(const std::string& text);
  bool operator==(const Gtid& o) const { return uuid == o.uuid && seqno == o.seqno; }
};

// Generates a random RFC 4122 version-4 uuid in lower-case 8-4-4-4-12 form.
std::string NewUuid();
// True when `text` is a uuid in 8-4-4-4-12 hex form.
bool IsValidUuid(const std::string& text);

class GtidSet {
 public:
  // Closed interval [first, last].
  using Interval = std::pair<uint64_t, uint64_t>;

  GtidSet() = default;
  // Parses MySQL's notation: "" (empty), "uuid:1-5", "uuid:1-5:7,uuid2:3". Whitespace around
  // elements is allowed. Intervals are normalised (merged, sorted).
  static absl::StatusOr<GtidSet> Parse(const std::string& text);

  void Add(const Gtid& gtid);
  void Add(const std::string& uuid, uint64_t seqno);
  void AddInterval(const std::string& uuid, uint64_t first, uint64_t last);
  void AddSet(const GtidSet& other);
  bool Contains(const Gtid& gtid) const;
  bool Contains(const std::string& uuid, uint64_t seqno) const;
  // True when every GTID of `other` is in this set.
  bool ContainsAll(const GtidSet& other) const;
  // GTIDs in this set and not in `other`.
  GtidSet Subtract(const GtidSet& other) const;
  bool empty() const { return sets_.empty(); }
  // Number of GTIDs in the set.
  uint64_t Count() const;
  // Highest seqno for `uuid`, 0 if none.
  uint64_t LastSeqno(const std::string& uuid) const;
  // Canonical text: uuids sorted, intervals merged, "a-b" or "a" for single.
  std::string ToString() const;
  const std::map<std::string, std::vector<Interval>>& intervals() const { return sets_; }
  bool operator==(const GtidSet& o) const { return sets_ == o.sets_; }

 private:
  std::map<std::string, std::vector<Interval>> sets_;  // sorted, disjoint, non-adjacent
};

}  // namespace semisync

#endif  // SEMISYNC_COMMON_GTID_H_
