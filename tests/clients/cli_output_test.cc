// The CLI's pure pieces: output formatting, the exit-code table and the load percentiles.
#include "client/cli_output.h"

#include <vector>

#include "client/cli.h"
#include "client/load_generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "semisync/v1/replication.pb.h"

namespace semisync {
namespace cli {
namespace {

using ::testing::HasSubstr;

TEST(ExitCodeFor, MapsEachDocumentedCode) {
  EXPECT_EQ(ExitCodeFor(grpc::Status::OK), 0);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")), 3);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::NOT_FOUND, "")), 4);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")), 5);
  for (auto code : {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::FAILED_PRECONDITION,
                    grpc::StatusCode::INTERNAL, grpc::StatusCode::OUT_OF_RANGE,
                    grpc::StatusCode::CANCELLED, grpc::StatusCode::UNKNOWN}) {
    EXPECT_EQ(ExitCodeFor(grpc::Status(code, "")), 2) << code;
  }
}

TEST(ToJson, UsesProtoFieldNamesAndPrintsDefaults) {
  v1::SlaveInfo info;
  info.set_slave_id("s1");
  info.set_acked_position(7);
  EXPECT_EQ(ToJson(info),
            "{\"slave_id\":\"s1\",\"address\":\"\",\"connected\":false,\"semi_sync\":false,"
            "\"acked_position\":\"7\",\"applied_position\":\"0\",\"lag_events\":\"0\","
            "\"lag_seconds\":0,\"last_ack_time_us\":\"0\"}");
}

TEST(FormatTimeUs, PrintsUtcWithMillisecondsAndDashForZero) {
  EXPECT_EQ(FormatTimeUs(0), "-");
  EXPECT_EQ(FormatTimeUs(1700000000123456), "2023-11-14T22:13:20.123Z");
}

TEST(CellText, EscapesControlCharacters) {
  EXPECT_EQ(CellText("a\nb\tc\x01"), "a\\nb\\tc\\x01");
}

TEST(CellText, CutsLongTextAtCharacterBoundary) {
  EXPECT_EQ(CellText("abcdefghij", 8), "abcde...");
  EXPECT_EQ(CellText("abcdefgh", 8), "abcdefgh");
  // "é" is two bytes, one character: never cut in half.
  EXPECT_EQ(CellText("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4), "\xc3\xa9...");
  // Escapes are never cut in half either.
  EXPECT_EQ(CellText("a\nbcdef", 6), "a\\n...");
  EXPECT_EQ(CellText("a\nbcdef", 5), "a...");
}

TEST(FormatTable, PadsColumnsAndRightAlignsNumbers) {
  EXPECT_EQ(FormatTable({"ID", "NAME"}, {{"1", "x"}, {"100", "long name"}}, {0}),
            " ID  NAME\n"
            "  1  x\n"
            "100  long name\n");
}

TEST(FormatTable, MeasuresUtf8ByCharacters) {
  EXPECT_EQ(FormatTable({"A", "B"}, {{"\xc3\xa9", "x"}}), "A  B\n\xc3\xa9  x\n");
}

TEST(MessageKeyValues, FlattensNestedMessagesAndFormatsTimestamps) {
  v1::MasterStatus status;
  status.set_role("master");
  status.mutable_semi_sync()->set_status(true);
  status.add_slaves()->set_last_ack_time_us(1700000000123456);
  KeyValues kv = MessageKeyValues(status, {"slaves"});
  std::string text = FormatKeyValues(kv);
  EXPECT_THAT(text, HasSubstr("role  "));
  EXPECT_THAT(text, HasSubstr("semi_sync.status "));
  EXPECT_THAT(text, HasSubstr("semi_sync_config.wait_point "));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("slaves")));
  v1::SlaveInfo info = status.slaves(0);
  EXPECT_THAT(FormatKeyValues(MessageKeyValues(info)),
              HasSubstr("last_ack_time_us  2023-11-14T22:13:20.123Z"));
}

TEST(IsTimestampField, TellsTimesFromDurations) {
  EXPECT_TRUE(IsTimestampField("created_at_us"));
  EXPECT_TRUE(IsTimestampField("last_ack_time_us"));
  EXPECT_FALSE(IsTimestampField("tx_wait_time_us"));
  EXPECT_FALSE(IsTimestampField("tx_avg_wait_time_us"));
}

TEST(FormatProgress, ShowsShareOfCountOrOfDuration) {
  EXPECT_EQ(FormatProgress(50, 1, 2.0, 100, 0),
            "[###############...............]  50%  50/100 ops  25 ops/s  1 errors");
  EXPECT_EQ(FormatProgress(10, 0, 5.0, 0, 10.0),
            "[###############...............]  50%  5.0/10.0 s  10 ops  2 ops/s  0 errors");
  EXPECT_THAT(FormatProgress(500, 0, 20.0, 0, 10.0), HasSubstr("100%"));  // clamped
}

TEST(Percentile, NearestRank) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(101 - i);  // 100..1, unsorted
  EXPECT_EQ(client::Percentile(&v, 50), 50);
  EXPECT_EQ(client::Percentile(&v, 95), 95);
  EXPECT_EQ(client::Percentile(&v, 99), 99);
  EXPECT_EQ(client::Percentile(&v, 100), 100);
  std::vector<double> one = {7};
  EXPECT_EQ(client::Percentile(&one, 99), 7);
  std::vector<double> none;
  EXPECT_EQ(client::Percentile(&none, 50), 0);
}

TEST(SummaryJson, HasTheDocumentedKeys) {
  client::LoadSummary s;
  s.clients = 2;
  s.writes = 10;
  s.acked = 9;
  s.errors = 1;
  s.last_error_code = "UNAVAILABLE";
  s.last_error = "say \"no\"";
  const std::string json = client::SummaryJson(s);
  EXPECT_THAT(json, HasSubstr("\"clients\":2,"));
  EXPECT_THAT(json, HasSubstr("\"ops\":10,\"writes\":10,\"reads\":0,"));
  EXPECT_THAT(json, HasSubstr("\"acked\":9,\"errors\":1,"));
  EXPECT_THAT(json, HasSubstr("\"last_error\":\"say \\\"no\\\"\"}"));
}

}  // namespace
}  // namespace cli
}  // namespace semisync
