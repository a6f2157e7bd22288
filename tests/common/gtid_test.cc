#include "common/gtid.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semisync {
namespace {

using ::testing::HasSubstr;

const std::string kA = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const std::string kB = "76147e28-8086-4f8c-9f98-1cf33d92978d";

GtidSet MustParse(const std::string& text) {
  auto set = GtidSet::Parse(text);
  EXPECT_TRUE(set.ok()) << text << ": " << set.status();
  return set.ok() ? *set : GtidSet();
}

// The error message of parsing `text` as a GTID set; fails the test if it parses.
std::string SetError(const std::string& text) {
  auto set = GtidSet::Parse(text);
  EXPECT_FALSE(set.ok()) << "\"" << text << "\" parsed as " << set->ToString();
  if (set.ok()) return "";
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(set.status().message());
}

TEST(GtidTest, ParseAndFormatRoundTrip) {
  auto gtid = Gtid::Parse(kA + ":23");
  ASSERT_TRUE(gtid.ok()) << gtid.status();
  EXPECT_EQ(gtid->uuid, kA);
  EXPECT_EQ(gtid->seqno, 23u);
  EXPECT_EQ(gtid->ToString(), kA + ":23");
  EXPECT_EQ(*Gtid::Parse(" " + kB + " : 9223372036854775807 "),
            (Gtid{kB, 9223372036854775807ULL}));
}

TEST(GtidTest, UpperCaseUuidIsStoredInLowerCase) {
  auto gtid = Gtid::Parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1");
  ASSERT_TRUE(gtid.ok()) << gtid.status();
  EXPECT_EQ(gtid->uuid, kA);
}

TEST(GtidTest, BadGtidsAreRejectedWithPreciseMessages) {
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {kA + ":0", "sequence number 0 is not allowed"},
      {"nouuid:1", "\"nouuid\" is not a uuid"},
      {kA + ":", "expected a sequence number, found end of text at offset 37"},
      {kA, "expected ':' after the uuid"},
      {kA + ":1-3", "unexpected '-' after the sequence number"},
      {kA + ":-1", "expected a sequence number, found '-'"},
      {kA + ":9223372036854775808", "is larger than 9223372036854775807"},
      {kA + ":99999999999999999999999", "is larger than"},
      {"", "expected a uuid, found end of text"},
  };
  for (const Case& c : cases) {
    auto gtid = Gtid::Parse(c.text);
    ASSERT_FALSE(gtid.ok()) << c.text;
    EXPECT_EQ(gtid.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(gtid.status().message()), HasSubstr(c.message)) << c.text;
  }
}

TEST(GtidTest, NewUuidIsValidVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string uuid = NewUuid();
    ASSERT_TRUE(IsValidUuid(uuid)) << uuid;
    EXPECT_EQ(uuid[14], '4') << uuid;
    EXPECT_THAT(std::string("89ab"), HasSubstr(std::string(1, uuid[19]))) << uuid;
    for (char c : uuid) EXPECT_FALSE(c >= 'A' && c <= 'F') << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(GtidTest, IsValidUuid) {
  EXPECT_TRUE(IsValidUuid(kA));
  EXPECT_TRUE(IsValidUuid("3E11FA47-71CA-11E1-9E33-C80AA9429562"));
  EXPECT_FALSE(IsValidUuid(""));
  EXPECT_FALSE(IsValidUuid("3e11fa47-71ca-11e1-9e33-c80aa942956"));    // short
  EXPECT_FALSE(IsValidUuid("3e11fa47-71ca-11e1-9e33-c80aa94295620"));  // long
  EXPECT_FALSE(IsValidUuid("3e11fa4771ca-11e1-9e33-c80aa9429562a"));   // dash moved
  EXPECT_FALSE(IsValidUuid("3e11fa47-71ca-11e1-9e33-c80aa942956g"));   // not hex
}

TEST(GtidSetTest, EmptyTextIsEmptySet) {
  GtidSet set = MustParse("");
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.Count(), 0u);
  EXPECT_EQ(set.ToString(), "");
  EXPECT_TRUE(MustParse("  \n ").empty());
}

TEST(GtidSetTest, ParseFormatRoundTripIsCanonical) {
  const std::string canonical = kA + ":1-5:7:9-11," + kB + ":1-322";
  EXPECT_EQ(MustParse(canonical).ToString(), canonical);
  // Uuids out of order, whitespace and MySQL's ",\n" separator, upper case, unsorted intervals.
  EXPECT_EQ(MustParse(" " + kB + ":1-322 ,\n3E11FA47-71CA-11E1-9E33-C80AA9429562 : 9-11 : 7 : 1 - 5 ")
                .ToString(),
            canonical);
}

TEST(GtidSetTest, MergesAdjacentAndOverlappingIntervals) {
  EXPECT_EQ(MustParse(kA + ":1-3:4-6").ToString(), kA + ":1-6");
  EXPECT_EQ(MustParse(kA + ":1-5:3-8").ToString(), kA + ":1-8");
  EXPECT_EQ(MustParse(kA + ":5:4:3:2:1").ToString(), kA + ":1-5");
  EXPECT_EQ(MustParse(kA + ":1-2:10-12:4-5:3").ToString(), kA + ":1-5:10-12");
  EXPECT_EQ(MustParse(kA + ":2-3:6-7:1-100").ToString(), kA + ":1-100");
  EXPECT_EQ(MustParse(kA + ":1-3," + kA + ":4-5").ToString(), kA + ":1-5");

  GtidSet set;
  set.Add(kA, 3);
  set.Add(kA, 1);
  EXPECT_EQ(set.ToString(), kA + ":1:3");
  set.Add(Gtid{kA, 2});
  EXPECT_EQ(set.ToString(), kA + ":1-3");
  EXPECT_EQ(set.intervals().at(kA).size(), 1u);
  set.AddInterval(kA, 10, 20);
  set.AddInterval(kA, 5, 9);  // touches 10 on the right, not 3 on the left
  EXPECT_EQ(set.ToString(), kA + ":1-3:5-20");
  set.AddInterval(kA, 4, 4);
  EXPECT_EQ(set.ToString(), kA + ":1-20");
}

TEST(GtidSetTest, HandlesTheLargestSeqnos) {
  const uint64_t kMax = 9223372036854775807ULL;
  GtidSet set = MustParse(kA + ":9223372036854775806-9223372036854775807:1");
  EXPECT_EQ(set.LastSeqno(kA), kMax);
  EXPECT_EQ(set.Count(), 3u);
  EXPECT_TRUE(set.Contains(kA, kMax));
  set.AddInterval(kA, 2, kMax - 2);
  EXPECT_EQ(set.ToString(), kA + ":1-9223372036854775807");
  EXPECT_EQ(set.Count(), kMax);
  EXPECT_TRUE(set.Subtract(set).empty());
}

TEST(GtidSetTest, AddSet) {
  GtidSet set = MustParse(kA + ":1-3:10");
  set.AddSet(MustParse(kA + ":4-9," + kB + ":5"));
  EXPECT_EQ(set.ToString(), kA + ":1-10," + kB + ":5");
  set.AddSet(GtidSet());
  EXPECT_EQ(set.ToString(), kA + ":1-10," + kB + ":5");
}

TEST(GtidSetTest, Contains) {
  GtidSet set = MustParse(kA + ":1-5:7:10-12," + kB + ":3");
  for (uint64_t s : {1, 3, 5, 7, 10, 12}) EXPECT_TRUE(set.Contains(kA, s)) << s;
  for (uint64_t s : {6, 8, 9, 13, 100}) EXPECT_FALSE(set.Contains(kA, s)) << s;
  EXPECT_TRUE(set.Contains(Gtid{kB, 3}));
  EXPECT_FALSE(set.Contains(Gtid{kB, 2}));
  EXPECT_FALSE(set.Contains("00000000-0000-0000-0000-000000000000", 1));
}

TEST(GtidSetTest, ContainsAll) {
  GtidSet set = MustParse(kA + ":1-5:7:10-12," + kB + ":1-100");
  EXPECT_TRUE(set.ContainsAll(GtidSet()));
  EXPECT_TRUE(set.ContainsAll(set));
  EXPECT_TRUE(set.ContainsAll(MustParse(kA + ":2-4:7:11," + kB + ":50-100")));
  EXPECT_FALSE(set.ContainsAll(MustParse(kA + ":4-7")));  // 6 missing
  EXPECT_FALSE(set.ContainsAll(MustParse(kA + ":12-13")));
  EXPECT_FALSE(set.ContainsAll(MustParse(kB + ":101")));
  EXPECT_FALSE(set.ContainsAll(MustParse("00000000-0000-0000-0000-000000000000:1")));
  EXPECT_FALSE(GtidSet().ContainsAll(set));
}

TEST(GtidSetTest, Subtract) {
  GtidSet set = MustParse(kA + ":1-10:20-30," + kB + ":1-5");
  EXPECT_EQ(set.Subtract(MustParse(kA + ":3-4:8-22")).ToString(),
            kA + ":1-2:5-7:23-30," + kB + ":1-5");
  EXPECT_EQ(set.Subtract(MustParse(kA + ":1-30")).ToString(), kB + ":1-5");
  EXPECT_EQ(set.Subtract(MustParse(kA + ":1," + kB + ":5")).ToString(),
            kA + ":2-10:20-30," + kB + ":1-4");
  EXPECT_EQ(set.Subtract(MustParse(kA + ":10-20")).ToString(), kA + ":1-9:21-30," + kB + ":1-5");
  EXPECT_EQ(set.Subtract(GtidSet()), set);
  EXPECT_TRUE(set.Subtract(set).empty());
  EXPECT_TRUE(GtidSet().Subtract(set).empty());
  // What a slave is missing: master's executed set minus the slave's.
  GtidSet missing = set.Subtract(MustParse(kA + ":1-25"));
  EXPECT_EQ(missing.ToString(), kA + ":26-30," + kB + ":1-5");
  EXPECT_EQ(missing.Count(), 10u);
}

TEST(GtidSetTest, CountAndLastSeqno) {
  GtidSet set = MustParse(kA + ":1-5:7:10-12," + kB + ":1-322");
  EXPECT_EQ(set.Count(), 5u + 1u + 3u + 322u);
  EXPECT_EQ(set.LastSeqno(kA), 12u);
  EXPECT_EQ(set.LastSeqno(kB), 322u);
  EXPECT_EQ(set.LastSeqno("00000000-0000-0000-0000-000000000000"), 0u);
}

TEST(GtidSetTest, BadTextIsRejectedWithWhatAndWhere) {
  EXPECT_THAT(SetError(kA + ":0"), HasSubstr("sequence number 0 is not allowed (they start at 1) "
                                             "at offset 37"));
  EXPECT_THAT(SetError(kA + ":5-3"), HasSubstr("interval 5-3 ends before it starts at offset 37"));
  EXPECT_THAT(SetError("nouuid:1"), HasSubstr("\"nouuid\" is not a uuid"));
  EXPECT_THAT(SetError("nouuid:1"), HasSubstr("at offset 0"));
  EXPECT_THAT(SetError(kA + ":"), HasSubstr("expected a sequence number, found end of text"));
  EXPECT_THAT(SetError(kA + ":1-"), HasSubstr("expected a sequence number, found end of text "
                                              "at offset 39"));
  EXPECT_THAT(SetError(kA), HasSubstr("expected ':' and an interval after uuid"));
  EXPECT_THAT(SetError(kA + ":1,"), HasSubstr("expected a uuid after ','"));
  EXPECT_THAT(SetError(kA + ":1,," + kB + ":1"), HasSubstr("expected a uuid, found ','"));
  EXPECT_THAT(SetError(kA + ":1 x"), HasSubstr("expected ':', ',' or end of text, found 'x'"));
  EXPECT_THAT(SetError(kA + ":1:a"), HasSubstr("expected a sequence number, found 'a'"));
  EXPECT_THAT(SetError(kA + ":1-2-3"), HasSubstr("found '-'"));
  EXPECT_THAT(SetError(kA + ":18446744073709551616"),
              HasSubstr("sequence number 18446744073709551616 is larger than 9223372036854775807"));
  EXPECT_THAT(SetError(kA + ":1-9223372036854775808"), HasSubstr("is larger than"));
  EXPECT_THAT(SetError(kA + ":1," + kB + ":x"), HasSubstr("found 'x' at offset 76"));
  // The message names the text.
  EXPECT_THAT(SetError(kA + ":0"), HasSubstr("invalid GTID set \"" + kA + ":0\""));
}

TEST(GtidSetTest, LongBadTextIsQuotedShortened) {
  std::string text;
  for (uint64_t i = 1; i < 200; i += 2) text += ":" + std::to_string(i);
  std::string message = SetError(kA + text + ":0");
  EXPECT_THAT(message, HasSubstr("...\""));
  EXPECT_LT(message.size(), 300u);
}

}  // namespace
}  // namespace semisync
