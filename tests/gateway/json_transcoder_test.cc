// Request transcoding (body, path and query binding, type conversion errors), the strict JSON
// syntax check, query string parsing and the response JSON (field names, zero values).
#include "server/gateway/json_transcoder.h"

#include "gmock/gmock.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "semisync/v1/binlog.pb.h"
#include "semisync/v1/records.pb.h"
#include "semisync/v1/replication.pb.h"
#include "server/gateway/json_syntax.h"

namespace semisync {
namespace gateway {
namespace {

using ::testing::HasSubstr;

VariableBinding Var(std::vector<std::string> path, std::string value) {
  return VariableBinding{std::move(path), std::move(value)};
}

absl::Status Query(const std::string& query, google::protobuf::Message* msg,
                   const std::vector<VariableBinding>& vars = {}) {
  QueryParams params;
  if (absl::Status s = ParseQueryString(query, &params); !s.ok()) return s;
  return TranscodeRequest("", "", vars, params, msg);
}

TEST(QueryStringTest, SplitsAndDecodes) {
  QueryParams p;
  ASSERT_TRUE(ParseQueryString("a=1&b=x%20y+z&flag&&c=", &p).ok());
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>("a", "1")));
  EXPECT_EQ(p[1].second, "x y z");
  EXPECT_EQ(p[2], (std::pair<std::string, std::string>("flag", "")));
  EXPECT_EQ(p[3], (std::pair<std::string, std::string>("c", "")));
  EXPECT_THAT(std::string(ParseQueryString("a=%zz", &p).message()), HasSubstr("%-escape"));
  EXPECT_THAT(std::string(ParseQueryString("a=%FF", &p).message()), HasSubstr("UTF-8"));
  EXPECT_THAT(std::string(ParseQueryString("=v", &p).message()), HasSubstr("no name"));
}

TEST(TranscodeQueryTest, BindsUnboundFieldsByProtoOrJsonName) {
  v1::GetBinlogRequest req;
  ASSERT_TRUE(Query("after_position=10&limit=100", &req).ok());
  EXPECT_EQ(req.after_position(), 10u);
  EXPECT_EQ(req.limit(), 100);
  v1::GetBinlogRequest camel;
  ASSERT_TRUE(Query("afterPosition=18446744073709551615", &camel).ok());
  EXPECT_EQ(camel.after_position(), 18446744073709551615u);
}

TEST(TranscodeQueryTest, NestedEnumAndRepeatedFields) {
  v1::BinlogEvent e;
  ASSERT_TRUE(Query("record.id=-5&record.content=hi%21&op=ROW_OP_UPDATE", &e).ok());
  EXPECT_EQ(e.record().id(), -5);
  EXPECT_EQ(e.record().content(), "hi!");
  EXPECT_EQ(e.op(), v1::ROW_OP_UPDATE);
  v1::BinlogEvent by_number;
  ASSERT_TRUE(Query("op=3", &by_number).ok());
  EXPECT_EQ(by_number.op(), v1::ROW_OP_DELETE);
  google::protobuf::FieldMask mask;
  ASSERT_TRUE(Query("paths=a&paths=b.c", &mask).ok());
  ASSERT_EQ(mask.paths_size(), 2);
  EXPECT_EQ(mask.paths(1), "b.c");
}

TEST(TranscodeQueryTest, ScalarConversions) {
  v1::RegisterSlaveRequest reg;
  ASSERT_TRUE(Query("semi_sync=true", &reg).ok());
  EXPECT_TRUE(reg.semi_sync());
  ASSERT_TRUE(Query("semi_sync=0", &reg).ok());
  EXPECT_FALSE(reg.semi_sync());
  v1::SlaveInfo info;
  ASSERT_TRUE(Query("lag_seconds=1.5e1", &info).ok());
  EXPECT_EQ(info.lag_seconds(), 15.0);
  google::protobuf::BytesValue bytes;
  ASSERT_TRUE(Query("value=aGVsbG8%3D", &bytes).ok());
  EXPECT_EQ(bytes.value(), "hello");
  ASSERT_TRUE(Query("value=_-8", &bytes).ok());  // URL-safe alphabet
  google::protobuf::FloatValue f;
  ASSERT_TRUE(Query("value=NaN", &f).ok());
  EXPECT_TRUE(std::isnan(f.value()));
}

struct BadQuery {
  const char* query;
  const char* problem;
};

void PrintTo(const BadQuery& b, std::ostream* os) { *os << b.query; }

class BadQueryTest : public ::testing::TestWithParam<BadQuery> {};

TEST_P(BadQueryTest, IsRejectedNamingTheProblem) {
  v1::BinlogEvent msg;  // position uint64, timestamp_us int64, op enum, record.id int64
  absl::Status s = Query(GetParam().query, &msg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << GetParam().query;
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().problem)) << s;
}

INSTANTIATE_TEST_SUITE_P(
    Queries, BadQueryTest,
    ::testing::Values(BadQuery{"position=abc",
                               R"(invalid value "abc" for field "position" (uint64))"},
                      BadQuery{"position=-1", "must not be negative"},
                      BadQuery{"position=18446744073709551616", "out of range"},
                      BadQuery{"position=+5", "not a decimal integer"},
                      BadQuery{"position=%205", "not a decimal integer"},
                      BadQuery{"position=", "not a decimal integer"},
                      BadQuery{"position=1.5", "not a decimal integer"},
                      BadQuery{"timestamp_us=9223372036854775808", "out of range"},
                      BadQuery{"timestamp_us=-9223372036854775809", "out of range"},
                      BadQuery{"op=ROW_OP_MERGE", "not a value of the enum"},
                      BadQuery{"op=7", "not a value of the enum"},
                      BadQuery{"nope=1", R"(unknown query parameter "nope")"},
                      BadQuery{"record.nope=1", R"(no field "nope" in semisync.v1.Record)"},
                      BadQuery{"record=1", "is a message"},
                      BadQuery{"position.x=1", "is not a message"},
                      BadQuery{"position=1&position=2", "given more than once"},
                      BadQuery{"gtid=%C3%28", "not valid UTF-8"}));

TEST(TranscodeQueryTest, Int32RangeAndBoolSpelling) {
  v1::GetBinlogRequest req;
  EXPECT_THAT(std::string(Query("limit=2147483648", &req).message()), HasSubstr("out of range"));
  v1::RegisterSlaveRequest reg;
  EXPECT_THAT(std::string(Query("semi_sync=yes", &reg).message()),
              HasSubstr("expected true or false"));
  google::protobuf::BytesValue bytes;
  EXPECT_THAT(std::string(Query("value=!!", &bytes).message()), HasSubstr("not base64"));
}

TEST(TranscodePathTest, PathVariablesAreConvertedAndCheckedAgainstTheBody) {
  v1::UpdateRecordRequest req;
  ASSERT_TRUE(TranscodeRequest("*", R"({"content":"x"})", {Var({"id"}, "42")}, {}, &req).ok());
  EXPECT_EQ(req.id(), 42);
  EXPECT_EQ(req.content(), "x");

  v1::UpdateRecordRequest same;
  EXPECT_TRUE(
      TranscodeRequest("*", R"({"id":"42","content":"x"})", {Var({"id"}, "42")}, {}, &same).ok());
  v1::UpdateRecordRequest differs;
  absl::Status s =
      TranscodeRequest("*", R"({"id":7,"content":"x"})", {Var({"id"}, "42")}, {}, &differs);
  EXPECT_THAT(std::string(s.message()), HasSubstr("set by the URL path"));

  v1::GetRecordRequest bad;
  s = TranscodeRequest("", "", {Var({"id"}, "abc")}, {}, &bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(R"(invalid value "abc" for field "id" (int64) in the URL path)"));
  s = TranscodeRequest("", "", {Var({"id"}, "99999999999999999999")}, {}, &bad);
  EXPECT_THAT(std::string(s.message()), HasSubstr("out of range"));
}

TEST(TranscodePathTest, QueryCannotOverrideThePathOrTheBody) {
  v1::GetRecordRequest req;
  absl::Status s = Query("id=5", &req, {Var({"id"}, "4")});
  EXPECT_THAT(std::string(s.message()), HasSubstr("bound by the URL path"));
  v1::CreateRecordRequest create;
  QueryParams q = {{"content", "x"}};
  s = TranscodeRequest("*", "", {}, q, &create);
  EXPECT_THAT(std::string(s.message()), HasSubstr("takes all its fields from the JSON body"));
  v1::BinlogEvent e;
  q = {{"record.id", "1"}};
  s = TranscodeRequest("record", R"({"content":"c"})", {}, q, &e);
  EXPECT_THAT(std::string(s.message()), HasSubstr("is the request body"));
}

TEST(TranscodeBodyTest, WholeBodyAndNamedBodyField) {
  v1::CreateRecordRequest create;
  ASSERT_TRUE(TranscodeRequest("*", R"( {"content":"Test record"} )", {}, {}, &create).ok());
  EXPECT_EQ(create.content(), "Test record");
  v1::CreateRecordRequest empty;
  ASSERT_TRUE(TranscodeRequest("*", "", {}, {}, &empty).ok());  // empty body: empty message
  v1::BinlogEvent e;
  QueryParams q = {{"position", "9"}};
  ASSERT_TRUE(TranscodeRequest("record", R"({"id":"3","content":"c"})", {}, q, &e).ok());
  EXPECT_EQ(e.record().id(), 3);
  EXPECT_EQ(e.position(), 9u);
  v1::AckRequest camel;
  ASSERT_TRUE(
      TranscodeRequest("*", R"({"slaveId":"s1","receivedPosition":"5"})", {}, {}, &camel).ok());
  EXPECT_EQ(camel.slave_id(), "s1");
  EXPECT_EQ(camel.received_position(), 5u);
}

TEST(TranscodeBodyTest, BoolLiteralsAreCheckedWhereverABoolFieldCanBe) {
  // Directly in the request, and in a nested message.
  v1::RegisterSlaveRequest reg;
  absl::Status s = TranscodeRequest("*", R"({"slave_id":"s1","semi_sync":"true"})", {}, {}, &reg);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("semi_sync"));
  v1::MasterStatus status;
  s = TranscodeRequest("*", R"({"semi_sync_config":{"enabled":"yes"}})", {}, {}, &status);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("enabled"));
  ASSERT_TRUE(TranscodeRequest("*", R"({"semi_sync_config":{"enabled":true}})", {}, {}, &status)
                  .ok());
  EXPECT_TRUE(status.semi_sync_config().enabled());
  // A type without any bool field skips the check and still parses strictly.
  v1::CreateRecordRequest create;
  ASSERT_TRUE(TranscodeRequest("*", R"({"content":"no bools here"})", {}, {}, &create).ok());
  EXPECT_EQ(create.content(), "no bools here");
  s = TranscodeRequest("*", R"({"content":"x","nope":1})", {}, {}, &create);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

struct BadBody {
  const char* body;
  const char* problem;
};

void PrintTo(const BadBody& b, std::ostream* os) { *os << b.body; }

class BadBodyTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(BadBodyTest, IsRejectedNamingTheProblem) {
  v1::AckRequest msg;
  absl::Status s = TranscodeRequest("*", GetParam().body, {}, {}, &msg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << GetParam().body;
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().problem)) << s;
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, BadBodyTest,
    ::testing::Values(
        BadBody{R"({"slave_id":"a")", "malformed JSON at offset 15: expected ',' or '}'"},
        BadBody{R"({"slave_id":"a",})", "trailing comma in object"},
        BadBody{R"({slave_id:"a"})", "expected a string key"},
        BadBody{R"({"slave_id":'a'})", "expected a value"},
        BadBody{R"({"slave_id":"a"} x)", "unexpected data after the JSON value"},
        BadBody{R"([1,2])", "must be an object"}, BadBody{R"("a")", "must be an object"},
        BadBody{R"({"slave_id":"a","slave_id":"b"})", R"(duplicate key "slave_id")"},
        BadBody{R"({"slave":"a"})", R"(unknown field "slave")"},
        BadBody{R"({"slave_id":5})", R"(invalid value 5 for field "slave_id" (string))"},
        BadBody{R"({"received_position":-1})", R"(field "received_position" (uint64))"},
        BadBody{R"({"received_position":18446744073709551616})", "received_position"},
        BadBody{R"({"received_position":1.5})", "received_position"},
        BadBody{R"({"received_position":"x"})", "received_position"},
        BadBody{R"({"applied_timestamp_us":9223372036854775808})", "applied_timestamp_us"},
        BadBody{R"({"slave_id":["a"]})", R"(field "slave_id" is not a list)"},
        BadBody{R"({"slave_id":{"a":1}})", R"(field "slave_id" is not an object)"},
        BadBody{R"({"slave_id":"\ud800"})", "unpaired high surrogate"},
        BadBody{"{\"slave_id\":\"a\tb\"}", "control character in string"},
        BadBody{R"({"received_position":01})", "leading zeros"},
        BadBody{"   ", "expected a value (the body is empty)"}));

TEST(JsonSyntaxTest, AcceptsStrictJsonAndLimitsDepth) {
  EXPECT_TRUE(CheckJsonSyntax(R"({"a":[1,-2.5e+3,true,false,null,{"b":"\u00e9\n"}]})").ok());
  EXPECT_TRUE(CheckJsonSyntax(R"("\ud83d\ude00")").ok());
  EXPECT_TRUE(CheckJsonSyntax("0").ok());
  EXPECT_FALSE(CheckJsonSyntax("-").ok());
  EXPECT_FALSE(CheckJsonSyntax("1.").ok());
  EXPECT_FALSE(CheckJsonSyntax("[1,]").ok());
  EXPECT_FALSE(CheckJsonSyntax("tru").ok());
  EXPECT_FALSE(CheckJsonSyntax(R"("\x")").ok());
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_THAT(std::string(CheckJsonSyntax(deep).message()), HasSubstr("nested too deeply"));
}

TEST(ResponseJsonTest, ProtoFieldNamesAndZeroValues) {
  v1::RecordWriteResponse resp;
  resp.mutable_record()->set_id(0);
  resp.mutable_write()->set_position(7);
  std::string json;
  ASSERT_TRUE(ResponseToJson(resp, "", &json).ok());
  EXPECT_EQ(json, R"({"record":{"id":"0","content":"","created_at_us":"0","updated_at_us":"0"},)"
                  R"("write":{"gtid":"","position":"7","semi_sync_acked":false}})");
  v1::ListRecordsResponse list;
  ASSERT_TRUE(ResponseToJson(list, "", &json).ok());
  EXPECT_EQ(json, R"({"records":[],"next_after_id":"0"})");
}

TEST(ResponseJsonTest, ResponseBodyFieldPrintsOnlyThatField) {
  v1::RecordWriteResponse resp;
  resp.mutable_record()->set_content("x");
  std::string json;
  ASSERT_TRUE(ResponseToJson(resp, "record", &json).ok());
  EXPECT_EQ(json, R"({"id":"0","content":"x","created_at_us":"0","updated_at_us":"0"})");
  v1::GetBinlogResponse binlog;
  ASSERT_TRUE(ResponseToJson(binlog, "events", &json).ok());
  EXPECT_EQ(json, "[]");
}

TEST(FieldPathTest, PathVariablesNeedSingularScalars) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  EXPECT_TRUE(
      ResolveFieldPath(v1::BinlogEvent::descriptor(), {"record", "id"}, false, &fields).ok());
  EXPECT_EQ(fields.size(), 2u);
  EXPECT_FALSE(ResolveFieldPath(v1::BinlogEvent::descriptor(), {"record"}, false, &fields).ok());
  EXPECT_FALSE(
      ResolveFieldPath(v1::GetBinlogResponse::descriptor(), {"events"}, true, &fields).ok());
  EXPECT_FALSE(
      ResolveFieldPath(google::protobuf::FieldMask::descriptor(), {"paths"}, false, &fields).ok());
  EXPECT_TRUE(CheckBodyField(v1::BinlogEvent::descriptor(), "record").ok());
  EXPECT_FALSE(CheckBodyField(v1::BinlogEvent::descriptor(), "nope").ok());
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
