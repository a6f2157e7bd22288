// PathMatcher: method + path -> route and bindings; 404 vs 405; precedence.
#include "server/gateway/path_matcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semisync {
namespace gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

enum RouteId {
  kList,
  kGet,
  kCreate,
  kUpdate,
  kDelete,
  kStats,
  kBooks,
  kFiles,
  kCancel,
  kJob,
  kStatic,
  kDeep
};

PathMatcher MakeMatcher() {
  PathMatcher::Builder b;
  auto add = [&](const char* method, const char* path, int id) {
    auto t = HttpTemplate::Parse(path);
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_TRUE(b.Add(method, *std::move(t), id).ok());
  };
  add("GET", "/api/records", kList);
  add("GET", "/api/records/{id}", kGet);
  add("POST", "/api/records", kCreate);
  add("PUT", "/api/records/{id}", kUpdate);
  add("DELETE", "/api/records/{id}", kDelete);
  add("GET", "/api/records/stats", kStats);
  add("GET", "/v1/{name=shelves/*}/books", kBooks);
  add("GET", "/files/{path=**}", kFiles);
  add("POST", "/api/jobs/{id}:cancel", kCancel);
  add("GET", "/api/jobs/{id}", kJob);
  add("GET", "/static/**", kStatic);
  add("GET", "/deep/{a.b.c}", kDeep);
  return std::move(b).Build();
}

class PathMatcherTest : public ::testing::Test {
 protected:
  PathMatcher m_ = MakeMatcher();
};

TEST_F(PathMatcherTest, LiteralRoute) {
  PathMatch r = m_.Match("GET", "/api/records");
  EXPECT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.route, kList);
  EXPECT_TRUE(r.bindings.empty());
  EXPECT_EQ(m_.Match("POST", "/api/records").route, kCreate);
}

TEST_F(PathMatcherTest, VariableIsBoundAndDecoded) {
  PathMatch r = m_.Match("PUT", "/api/records/42");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.route, kUpdate);
  ASSERT_EQ(r.bindings.size(), 1u);
  EXPECT_THAT(r.bindings[0].field_path, ElementsAre("id"));
  EXPECT_EQ(r.bindings[0].value, "42");

  r = m_.Match("GET", "/api/records/a%20b%2Fc");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.bindings[0].value, "a b/c");  // one segment: fully decoded
}

TEST_F(PathMatcherTest, NestedFieldPath) {
  PathMatch r = m_.Match("GET", "/deep/x");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_THAT(r.bindings[0].field_path, ElementsAre("a", "b", "c"));
}

TEST_F(PathMatcherTest, LiteralBeatsVariable) {
  EXPECT_EQ(m_.Match("GET", "/api/records/stats").route, kStats);
  EXPECT_EQ(m_.Match("GET", "/api/records/stat").route, kGet);
}

TEST_F(PathMatcherTest, MultiSegmentVariable) {
  PathMatch r = m_.Match("GET", "/v1/shelves/7/books");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.route, kBooks);
  EXPECT_EQ(r.bindings[0].value, "shelves/7");
  EXPECT_EQ(m_.Match("GET", "/v1/racks/7/books").kind, PathMatch::Kind::kNotFound);
}

TEST_F(PathMatcherTest, DoubleWildcardTakesTheRestAndKeepsEscapedSlashes) {
  PathMatch r = m_.Match("GET", "/files/a/b%2Fc/d");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.route, kFiles);
  EXPECT_EQ(r.bindings[0].value, "a/b%2Fc/d");
  EXPECT_EQ(m_.Match("GET", "/static").route, kStatic);  // zero segments
  EXPECT_EQ(m_.Match("GET", "/static/x/y/z").route, kStatic);
}

TEST_F(PathMatcherTest, Verb) {
  PathMatch r = m_.Match("POST", "/api/jobs/9:cancel");
  ASSERT_EQ(r.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(r.route, kCancel);
  EXPECT_EQ(r.bindings[0].value, "9");
  // Without the verb, the same path is the GET route's; POST there is not allowed.
  EXPECT_EQ(m_.Match("GET", "/api/jobs/9").route, kJob);
  r = m_.Match("POST", "/api/jobs/9");
  EXPECT_EQ(r.kind, PathMatch::Kind::kMethodNotAllowed);
  // ":cancel" alone is no id for the verb route, but is one for the GET route.
  EXPECT_EQ(m_.Match("POST", "/api/jobs/:cancel").kind, PathMatch::Kind::kMethodNotAllowed);
}

TEST_F(PathMatcherTest, UnknownPathIsNotFound) {
  EXPECT_EQ(m_.Match("GET", "/api/recordz").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "/api/records/1/2").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "/").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "*").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "/API/records").kind, PathMatch::Kind::kNotFound);
}

TEST_F(PathMatcherTest, EmptySegmentsNeverMatch) {
  EXPECT_EQ(m_.Match("GET", "/api/records/").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "//api/records").kind, PathMatch::Kind::kNotFound);
  EXPECT_EQ(m_.Match("GET", "/api//records").kind, PathMatch::Kind::kNotFound);
}

TEST_F(PathMatcherTest, KnownPathWithWrongMethodListsTheAllowedOnes) {
  PathMatch r = m_.Match("PATCH", "/api/records/5");
  EXPECT_EQ(r.kind, PathMatch::Kind::kMethodNotAllowed);
  EXPECT_THAT(r.allowed_methods, ElementsAre("DELETE", "GET", "PUT"));
  EXPECT_TRUE(r.bindings.empty());
  r = m_.Match("DELETE", "/api/records");
  EXPECT_THAT(r.allowed_methods, ElementsAre("GET", "POST"));
  r = m_.Match("HEAD", "/api/records");
  EXPECT_EQ(r.kind, PathMatch::Kind::kMethodNotAllowed);
  r = m_.Match("get", "/api/records");  // methods are case-sensitive
  EXPECT_EQ(r.kind, PathMatch::Kind::kMethodNotAllowed);
}

TEST_F(PathMatcherTest, MalformedEscapeIsABadPath) {
  PathMatch r = m_.Match("GET", "/api/records/%zz");
  EXPECT_EQ(r.kind, PathMatch::Kind::kBadPath);
  EXPECT_THAT(r.error, HasSubstr("malformed %-escape"));
  EXPECT_EQ(m_.Match("GET", "/api/records/%4").kind, PathMatch::Kind::kBadPath);
}

TEST(PathMatcherBuilderTest, SameMethodAndShapeConflicts) {
  PathMatcher::Builder b;
  ASSERT_TRUE(b.Add("GET", *HttpTemplate::Parse("/a/{id}"), 0).ok());
  absl::Status s = b.Add("GET", *HttpTemplate::Parse("/a/{name}"), 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), HasSubstr("conflicts"));
  EXPECT_TRUE(b.Add("POST", *HttpTemplate::Parse("/a/{id}"), 2).ok());
  EXPECT_TRUE(b.Add("GET", *HttpTemplate::Parse("/a/{id}:run"), 3).ok());
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
