// GTIDs and GTID sets (see gtid.h).
//
// Text grammar accepted by GtidSet::Parse (whitespace allowed around every token):
//   set      := "" | element ("," element)*
//   element  := uuid (":" interval)+
//   interval := seqno | seqno "-" seqno          (first <= last)
//   seqno    := decimal digits, 1 .. 2^63-1      (MySQL's range for a GNO)
// Uuids are accepted in either case and stored in lower case, so that "A...:1" and "a...:1" name the
// same server.
#include "common/gtid.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"

namespace semisync {
namespace {

constexpr uint64_t kMaxSeqno = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr size_t kUuidLength = 36;

bool IsDashPosition(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// A cursor over the text being parsed; errors name the whole text and the offset of the problem.
class Parser {
 public:
  Parser(const std::string& text, const char* what) : text_(text), what_(what) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }

  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }

  absl::Status Error(size_t at, const std::string& message) const {
    constexpr size_t kMaxQuoted = 120;  // GTID sets can be long; quote only their start
    std::string quoted = absl::CEscape(text_.substr(0, kMaxQuoted));
    if (text_.size() > kMaxQuoted) quoted += "...";
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid %s \"%s\": %s at offset %d", what_, quoted, message, at));
  }

  // Describes the character at the cursor for error messages.
  std::string Found() const {
    if (AtEnd()) return "end of text";
    return absl::StrCat("'", absl::CEscape(std::string(1, Peek())), "'");
  }

  // Reads a uuid token (everything up to ':', ',', whitespace or the end) and validates it.
  absl::StatusOr<std::string> Uuid() {
    const size_t start = pos_;
    while (!AtEnd() && Peek() != ':' && Peek() != ',' &&
           !std::isspace(static_cast<unsigned char>(Peek()))) {
      ++pos_;
    }
    if (pos_ == start) return Error(start, absl::StrCat("expected a uuid, found ", Found()));
    std::string uuid = text_.substr(start, pos_ - start);
    if (!IsValidUuid(uuid)) {
      return Error(start, absl::StrCat("\"", absl::CEscape(uuid),
                                       "\" is not a uuid (expected 8-4-4-4-12 hex digits)"));
    }
    return absl::AsciiStrToLower(uuid);
  }

  // Reads a sequence number in [1, kMaxSeqno].
  absl::StatusOr<uint64_t> Seqno() {
    const size_t start = pos_;
    if (!std::isdigit(static_cast<unsigned char>(Peek()))) {
      return Error(start, absl::StrCat("expected a sequence number, found ", Found()));
    }
    uint64_t value = 0;
    bool overflow = false;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) {
      const uint64_t digit = static_cast<uint64_t>(Peek() - '0');
      if (value > (kMaxSeqno - digit) / 10) overflow = true;
      if (!overflow) value = value * 10 + digit;
      ++pos_;
    }
    if (overflow) {
      return Error(start, absl::StrCat("sequence number ", text_.substr(start, pos_ - start),
                                       " is larger than ", kMaxSeqno));
    }
    if (value == 0) return Error(start, "sequence number 0 is not allowed (they start at 1)");
    return value;
  }

 private:
  const std::string& text_;
  const char* const what_;
  size_t pos_ = 0;
};

// Adds [first, last] to a sorted, disjoint, non-adjacent interval list, merging as needed.
// Comparisons are written so that no "+ 1" can overflow.
void AddToIntervals(std::vector<GtidSet::Interval>* ivs, uint64_t first, uint64_t last) {
  // First interval that overlaps or touches [first, last] from the right: its last >= first - 1.
  auto it = std::lower_bound(ivs->begin(), ivs->end(), first,
                             [](const GtidSet::Interval& iv, uint64_t f) { return iv.second < f - 1; });
  auto end = it;
  while (end != ivs->end() && end->first - 1 <= last) {
    first = std::min(first, end->first);
    last = std::max(last, end->second);
    ++end;
  }
  if (it == end) {
    ivs->insert(it, {first, last});
  } else {
    *it = {first, last};
    ivs->erase(it + 1, end);
  }
}

// Intervals of `a` not covered by `b`; both sorted and disjoint.
std::vector<GtidSet::Interval> SubtractIntervals(const std::vector<GtidSet::Interval>& a,
                                                 const std::vector<GtidSet::Interval>& b) {
  std::vector<GtidSet::Interval> out;
  size_t j = 0;
  for (const GtidSet::Interval& iv : a) {
    uint64_t first = iv.first;
    const uint64_t last = iv.second;
    bool remaining = true;
    while (j < b.size() && b[j].second < first) ++j;
    for (size_t k = j; k < b.size() && b[k].first <= last; ++k) {
      if (b[k].first > first) out.emplace_back(first, b[k].first - 1);
      if (b[k].second >= last) {
        remaining = false;
        break;
      }
      first = std::max(first, b[k].second + 1);  // b[k].second < last, so no overflow
    }
    if (remaining) out.emplace_back(first, last);
  }
  return out;
}

}  // namespace

std::string Gtid::ToString() const { return absl::StrCat(uuid, ":", seqno); }

absl::StatusOr<Gtid> Gtid::Parse(const std::string& text) {
  Parser p(text, "GTID");
  p.SkipSpace();
  Gtid gtid;
  auto uuid = p.Uuid();
  if (!uuid.ok()) return uuid.status();
  gtid.uuid = *std::move(uuid);
  p.SkipSpace();
  if (!p.Consume(':')) {
    return p.Error(p.pos(), absl::StrCat("expected ':' after the uuid, found ", p.Found()));
  }
  p.SkipSpace();
  auto seqno = p.Seqno();
  if (!seqno.ok()) return seqno.status();
  gtid.seqno = *seqno;
  p.SkipSpace();
  if (!p.AtEnd()) {
    return p.Error(p.pos(), absl::StrCat("unexpected ", p.Found(), " after the sequence number"));
  }
  return gtid;
}

std::string NewUuid() {
  thread_local absl::BitGen gen;
  uint64_t hi = absl::Uniform<uint64_t>(gen);
  uint64_t lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                                 // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);             // variant 10xx
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF,
                         lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

bool IsValidUuid(const std::string& text) {
  if (text.size() != kUuidLength) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool ok = IsDashPosition(i) ? text[i] == '-'
                                      : std::isxdigit(static_cast<unsigned char>(text[i])) != 0;
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<GtidSet> GtidSet::Parse(const std::string& text) {
  Parser p(text, "GTID set");
  GtidSet set;
  p.SkipSpace();
  if (p.AtEnd()) return set;
  while (true) {
    p.SkipSpace();
    auto uuid = p.Uuid();
    if (!uuid.ok()) return uuid.status();
    p.SkipSpace();
    if (p.Peek() != ':') {
      return p.Error(p.pos(), absl::StrCat("expected ':' and an interval after uuid ", *uuid,
                                           ", found ", p.Found()));
    }
    while (p.Consume(':')) {
      p.SkipSpace();
      const size_t interval_start = p.pos();
      auto first = p.Seqno();
      if (!first.ok()) return first.status();
      uint64_t last = *first;
      p.SkipSpace();
      if (p.Consume('-')) {
        p.SkipSpace();
        auto end = p.Seqno();
        if (!end.ok()) return end.status();
        last = *end;
        if (last < *first) {
          return p.Error(interval_start, absl::StrCat("interval ", *first, "-", last,
                                                      " ends before it starts"));
        }
        p.SkipSpace();
      }
      set.AddInterval(*uuid, *first, last);
    }
    if (p.AtEnd()) break;
    if (!p.Consume(',')) {
      return p.Error(p.pos(), absl::StrCat("expected ':', ',' or end of text, found ", p.Found()));
    }
    p.SkipSpace();
    if (p.AtEnd()) return p.Error(p.pos(), "expected a uuid after ','");
  }
  return set;
}

void GtidSet::Add(const Gtid& gtid) { AddInterval(gtid.uuid, gtid.seqno, gtid.seqno); }

void GtidSet::Add(const std::string& uuid, uint64_t seqno) { AddInterval(uuid, seqno, seqno); }

void GtidSet::AddInterval(const std::string& uuid, uint64_t first, uint64_t last) {
  CHECK_GE(first, 1u) << "GTID sequence numbers start at 1 (uuid " << uuid << ")";
  CHECK_LE(first, last) << "empty GTID interval " << first << "-" << last << " for " << uuid;
  AddToIntervals(&sets_[uuid], first, last);
}

void GtidSet::AddSet(const GtidSet& other) {
  for (const auto& [uuid, ivs] : other.sets_) {
    std::vector<Interval>& mine = sets_[uuid];
    for (const Interval& iv : ivs) AddToIntervals(&mine, iv.first, iv.second);
  }
}

bool GtidSet::Contains(const Gtid& gtid) const { return Contains(gtid.uuid, gtid.seqno); }

bool GtidSet::Contains(const std::string& uuid, uint64_t seqno) const {
  auto sit = sets_.find(uuid);
  if (sit == sets_.end()) return false;
  const std::vector<Interval>& ivs = sit->second;
  // First interval starting after seqno; the one before it is the only candidate.
  auto it = std::upper_bound(ivs.begin(), ivs.end(), seqno,
                             [](uint64_t s, const Interval& iv) { return s < iv.first; });
  return it != ivs.begin() && std::prev(it)->second >= seqno;
}

bool GtidSet::ContainsAll(const GtidSet& other) const {
  for (const auto& [uuid, theirs] : other.sets_) {
    auto sit = sets_.find(uuid);
    if (sit == sets_.end()) {
      if (theirs.empty()) continue;
      return false;
    }
    const std::vector<Interval>& mine = sit->second;
    // Intervals are maximal here, so each of theirs must fit inside a single one of mine.
    for (const Interval& iv : theirs) {
      auto it = std::upper_bound(mine.begin(), mine.end(), iv.first,
                                 [](uint64_t s, const Interval& m) { return s < m.first; });
      if (it == mine.begin() || std::prev(it)->second < iv.second) return false;
    }
  }
  return true;
}

GtidSet GtidSet::Subtract(const GtidSet& other) const {
  GtidSet out;
  for (const auto& [uuid, ivs] : sets_) {
    auto oit = other.sets_.find(uuid);
    std::vector<Interval> rest =
        oit == other.sets_.end() ? ivs : SubtractIntervals(ivs, oit->second);
    if (!rest.empty()) out.sets_.emplace(uuid, std::move(rest));
  }
  return out;
}

uint64_t GtidSet::Count() const {
  uint64_t total = 0;
  for (const auto& [uuid, ivs] : sets_) {
    for (const Interval& iv : ivs) {
      const uint64_t n = iv.second - iv.first + 1;  // cannot overflow: first >= 1
      total = n > std::numeric_limits<uint64_t>::max() - total
                  ? std::numeric_limits<uint64_t>::max()  // saturate
                  : total + n;
    }
  }
  return total;
}

uint64_t GtidSet::LastSeqno(const std::string& uuid) const {
  auto it = sets_.find(uuid);
  if (it == sets_.end() || it->second.empty()) return 0;
  return it->second.back().second;
}

std::string GtidSet::ToString() const {
  std::string out;
  for (const auto& [uuid, ivs] : sets_) {
    if (ivs.empty()) continue;
    if (!out.empty()) out += ",";
    out += uuid;
    for (const Interval& iv : ivs) {
      if (iv.first == iv.second) {
        absl::StrAppend(&out, ":", iv.first);
      } else {
        absl::StrAppend(&out, ":", iv.first, "-", iv.second);
      }
    }
  }
  return out;
}

}  // namespace semisync
