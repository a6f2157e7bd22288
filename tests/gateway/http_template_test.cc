// HttpTemplate: the google.api.http path template grammar, good and bad.
#include "server/gateway/http_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semisync {
namespace gateway {
namespace {

using Kind = HttpTemplate::Segment::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(HttpTemplateTest, LiteralPath) {
  auto t = HttpTemplate::Parse("/api/records");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->segments().size(), 2u);
  EXPECT_EQ(t->segments()[0].kind, Kind::kLiteral);
  EXPECT_EQ(t->segments()[0].literal, "api");
  EXPECT_EQ(t->segments()[1].literal, "records");
  EXPECT_TRUE(t->variables().empty());
  EXPECT_EQ(t->verb(), "");
  EXPECT_EQ(t->ToString(), "/api/records");
}

TEST(HttpTemplateTest, ShortVariableIsOneWildcardSegment) {
  auto t = HttpTemplate::Parse("/api/records/{id}");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->segments().size(), 3u);
  EXPECT_EQ(t->segments()[2].kind, Kind::kWildcard);
  ASSERT_EQ(t->variables().size(), 1u);
  EXPECT_THAT(t->variables()[0].field_path, ElementsAre("id"));
  EXPECT_EQ(t->variables()[0].begin, 2);
  EXPECT_EQ(t->variables()[0].end, 3);
  EXPECT_EQ(t->ToString(), "/api/records/{id=*}");
}

TEST(HttpTemplateTest, VariableOverSeveralSegmentsWithNestedField) {
  auto t = HttpTemplate::Parse("/v1/{book.name=shelves/*/books/*}:publish");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->segments().size(), 5u);
  ASSERT_EQ(t->variables().size(), 1u);
  EXPECT_THAT(t->variables()[0].field_path, ElementsAre("book", "name"));
  EXPECT_EQ(t->variables()[0].begin, 1);
  EXPECT_EQ(t->variables()[0].end, 5);
  EXPECT_EQ(t->verb(), "publish");
  EXPECT_EQ(t->ToString(), "/v1/{book.name=shelves/*/books/*}:publish");
}

TEST(HttpTemplateTest, MultiWildcardAtTheEnd) {
  auto t = HttpTemplate::Parse("/files/{path=**}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->ends_with_multi_wildcard());
  auto bare = HttpTemplate::Parse("/static/**");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->ends_with_multi_wildcard());
  EXPECT_TRUE(bare->variables().empty());
}

TEST(HttpTemplateTest, EscapedLiteralIsDecoded) {
  auto t = HttpTemplate::Parse("/a%20b/c-d.e_f~g");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->segments()[0].literal, "a b");
  EXPECT_EQ(t->segments()[1].literal, "c-d.e_f~g");
}

TEST(HttpTemplateTest, SeveralVariables) {
  auto t = HttpTemplate::Parse("/shelves/{shelf}/books/{book}");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->variables().size(), 2u);
  EXPECT_THAT(t->variables()[1].field_path, ElementsAre("book"));
  EXPECT_EQ(t->variables()[1].begin, 3);
}

struct BadTemplate {
  const char* text;
  const char* problem;
};

void PrintTo(const BadTemplate& b, std::ostream* os) { *os << b.text; }

class BadTemplateTest : public ::testing::TestWithParam<BadTemplate> {};

TEST_P(BadTemplateTest, IsRejectedWithAClearMessage) {
  auto t = HttpTemplate::Parse(GetParam().text);
  ASSERT_FALSE(t.ok()) << GetParam().text << " parsed as " << t->ToString();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("invalid HTTP template"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(GetParam().problem)) << t.status();
}

INSTANTIATE_TEST_SUITE_P(
    Templates, BadTemplateTest,
    ::testing::Values(
        BadTemplate{"", "empty template"}, BadTemplate{"api/records", "must start with '/'"},
        BadTemplate{"/", "empty path segment at offset 1"},
        BadTemplate{"/a//b", "empty path segment at offset 3"},
        BadTemplate{"/a/", "empty path segment"},
        BadTemplate{"/a/{id", "unterminated variable at offset 3"},
        BadTemplate{"/a/{}", "expected a field name at offset 4"},
        BadTemplate{"/a/{1id}", "expected a field name"},
        BadTemplate{"/a/{id.}", "expected a field name"},
        BadTemplate{"/a/{id=}", "empty path segment"}, BadTemplate{"/a/{x={y}}", "nested variable"},
        BadTemplate{"/a/{id}/{id}", "duplicate variable 'id'"},
        BadTemplate{"/**/a", "'**' must be the last segment"},
        BadTemplate{"/{x=**}/a", "'**' must be the last segment"},
        BadTemplate{"/a/b*", "'*' must be a whole segment"},
        BadTemplate{"/a/*b", "'*' must be a whole segment"}, BadTemplate{"/a:", "empty verb"},
        BadTemplate{"/a/b c", "character ' ' is not allowed"},
        BadTemplate{"/a/%zz", "malformed %-escape"}, BadTemplate{"/a}/b", "unexpected '}'"},
        BadTemplate{"/a/{id}x", "unexpected 'x'"}, BadTemplate{"/a/{id=b:c}", "expected '}'"},
        BadTemplate{"/a:b:c", "unexpected ':'"},
        BadTemplate{"/a?b", "character '?' is not allowed"}));

TEST(PercentDecodeTest, DecodesAndRejectsMalformedEscapes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b%2Fc", false, &out));
  EXPECT_EQ(out, "a b/c");
  EXPECT_TRUE(PercentDecode("a%2fb%41", true, &out));
  EXPECT_EQ(out, "a%2fbA");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("%4", false, &out));
  EXPECT_FALSE(PercentDecode("%g0", false, &out));
  EXPECT_TRUE(PercentDecode("", false, &out));
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
