// The HTTP/JSON gateway over real HTTP on loopback, in front of an in-process master: every
// master route, a table of malformed requests, OpenAPI, concurrency and the listening port.
// (Streams: gateway_stream_test.cc.)
#include <atomic>
#include <thread>

#include "tests/gateway/gateway_fixture.h"

namespace semisync {
namespace gateway {
namespace {

using ::testing::HasSubstr;

TEST_F(GatewayTest, RecordsCrudAsInTheSeed) {
  httplib::Client c = Client();
  v1::RecordWriteResponse created = Create(c, "Test record");
  EXPECT_EQ(created.record().id(), 1);
  EXPECT_EQ(created.record().content(), "Test record");
  EXPECT_EQ(created.write().position(), 1u);
  EXPECT_EQ(created.write().gtid(), master_->server_uuid() + ":1");
  // Zero values are printed, with proto field names.
  auto raw = c.Post("/api/records", R"({"content":"second"})", "application/json; charset=UTF-8");
  ASSERT_TRUE(raw);
  EXPECT_THAT(raw->body, HasSubstr(R"("semi_sync_acked":false)"));
  EXPECT_THAT(raw->body, HasSubstr(R"("created_at_us":")"));

  auto got = c.Get("/api/records/1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(ParseAs<v1::Record>(got->body).content(), "Test record");

  auto list = c.Get("/api/records?limit=1");
  ASSERT_TRUE(list);
  auto page = ParseAs<v1::ListRecordsResponse>(list->body);
  ASSERT_EQ(page.records_size(), 1);
  EXPECT_EQ(page.next_after_id(), 1);
  list = c.Get("/api/records?after_id=1");
  ASSERT_TRUE(list);
  EXPECT_EQ(ParseAs<v1::ListRecordsResponse>(list->body).records(0).content(), "second");

  auto put = c.Put("/api/records/1", R"({"content":"updated"})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(ParseAs<v1::RecordWriteResponse>(put->body).record().content(), "updated");
  EXPECT_EQ(ParseAs<v1::RecordWriteResponse>(put->body).write().position(), 3u);

  auto del = c.Delete("/api/records/1");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200) << del->body;
  EXPECT_EQ(ParseAs<v1::DeleteRecordResponse>(del->body).id(), 1);
  ExpectJsonError(c.Get("/api/records/1"), 404, "", "get after delete");
  ExpectJsonError(c.Put("/api/records/77", R"({"content":"x"})", "application/json"), 404, "",
                  "update of a missing record");
}

TEST_F(GatewayTest, StatusFieldsArePresent) {
  httplib::Client c = Client();
  Create(c, "x");
  auto r = c.Get("/api/status");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  Struct s = ParseJson(r->body);
  for (const char* key :
       {"role", "server_uuid", "binlog_end_position", "executed_gtid_set", "oldest_position",
        "binlog_bytes", "applied_position", "semi_sync_config", "semi_sync", "slaves"}) {
    EXPECT_TRUE(s.fields().count(key)) << key << " missing from " << r->body;
  }
  EXPECT_EQ(s.fields().at("binlog_end_position").string_value(), "1");
  const Struct& semi = s.fields().at("semi_sync").struct_value();
  for (const char* key : {"clients", "status", "yes_tx", "no_tx", "no_times", "tx_waits",
                          "net_avg_wait_time_us", "wait_pos_backtraverse"}) {
    EXPECT_TRUE(semi.fields().count(key)) << key << " missing from " << r->body;
  }
}

TEST_F(GatewayTest, BinlogPages) {
  httplib::Client c = Client();
  for (int i = 1; i <= 5; ++i) Create(c, absl::StrCat("row ", i));
  auto page = [&](const std::string& query) {
    auto r = c.Get(absl::StrCat("/api/binlog?", query));
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    return ParseAs<v1::GetBinlogResponse>(r->body);
  };
  v1::GetBinlogResponse p = page("after_position=0&limit=2");
  ASSERT_EQ(p.events_size(), 2);
  EXPECT_EQ(p.events(0).position(), 1u);
  EXPECT_EQ(p.events(1).record().content(), "row 2");
  EXPECT_EQ(p.binlog_end_position(), 5u);
  p = page("after_position=2&limit=2");
  ASSERT_EQ(p.events_size(), 2);
  EXPECT_EQ(p.events(0).position(), 3u);
  p = page("afterPosition=4");  // JSON names work too
  ASSERT_EQ(p.events_size(), 1);
  EXPECT_EQ(p.events(0).op(), v1::ROW_OP_INSERT);
  EXPECT_EQ(page("after_position=5").events_size(), 0);
}

TEST_F(GatewayTest, RegisterSlaveAndAckWithValidAndInvalidBodies) {
  httplib::Client c = Client();
  Create(c, "x");
  auto reg = c.Post("/api/register_slave",
                    R"({"slave_id":"slave1","address":"127.0.0.1:8081","semi_sync":true})",
                    "application/json");
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 200) << reg->body;
  auto resp = ParseAs<v1::RegisterSlaveResponse>(reg->body);
  EXPECT_EQ(resp.master_uuid(), master_->server_uuid());
  EXPECT_EQ(resp.binlog_end_position(), 1u);

  auto ack =
      c.Post("/api/ack", R"({"slave_id":"slave1","received_position":"1"})", "application/json");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->status, 200) << ack->body;
  EXPECT_EQ(ParseAs<v1::AckResponse>(ack->body).binlog_end_position(), 1u);

  ExpectJsonError(c.Post("/api/register_slave", R"({"slave_id":"bad id!"})", "application/json"),
                  400, "", "invalid slave id");
  ExpectJsonError(
      c.Post("/api/register_slave", R"({"slave_id":"s","semi_sync":"maybe"})", "application/json"),
      400, "semi_sync", "bool field with a string");
  for (const char* lenient : {R"("yes")", R"("true")", R"("1")", "1"}) {
    ExpectJsonError(c.Post("/api/register_slave",
                           absl::StrCat(R"({"slave_id":"s","semi_sync":)", lenient, "}"),
                           "application/json"),
                    400, "semi_sync", "bool field must be a JSON true or false");
  }
  ExpectJsonError(
      c.Post("/api/ack", R"({"slave_id":"nobody","received_position":1})", "application/json"), 400,
      "not registered", "ack from an unregistered slave");
  ExpectJsonError(
      c.Post("/api/ack", R"({"slave_id":"slave1","received_position":99})", "application/json"),
      400, "beyond the binlog end", "ack past the end");
  ExpectJsonError(
      c.Post("/api/ack", R"({"slave_id":"slave1","received_position":-1})", "application/json"),
      400, "received_position", "negative position");
}

struct BadRequest {
  std::string method;
  std::string path;
  std::string content_type;
  std::string body;
  int status;
  std::string message_part;
  std::string allow = "";
};

TEST_F(GatewayTest, MalformedRequestsGetA4xxJsonErrorAndTheServerKeepsServing) {
  httplib::Client seed = Client();
  Create(seed, "existing");
  const std::string json = "application/json";
  const std::string huge = absl::StrCat(R"({"content":")", std::string(2 << 20, 'a'), R"("})");
  const std::vector<BadRequest> cases = {
      {"POST", "/api/records", json, R"({"content":)", 400, "malformed JSON at offset 11"},
      {"POST", "/api/records", json, R"({"content":"x",})", 400, "trailing comma"},
      {"POST", "/api/records", json, "not json", 400, "malformed JSON at offset 0"},
      {"POST", "/api/records", json, R"({"content":"a","content":"b"})", 400, "duplicate key"},
      {"POST", "/api/records", json, R"({"content":5})", 400, R"(field "content" (string))"},
      {"POST", "/api/records", json, R"({"content":["a"]})", 400, "is not a list"},
      {"POST", "/api/records", json, R"({"contnt":"x"})", 400, R"(unknown field "contnt")"},
      {"POST", "/api/records", json, "[]", 400, "must be an object"},
      {"POST", "/api/records", json, "{\"content\":\"\xff\"}", 400, "not valid UTF-8"},
      {"POST", "/api/records", json, "{\"content\":\"\xc3\x28\"}", 400, "not valid UTF-8"},
      {"POST", "/api/records", json, R"({"content":"\udc00"})", 400, "unpaired low surrogate"},
      {"POST", "/api/records", json, huge, 413, "over the limit"},
      {"POST", "/api/records", "text/plain", R"({"content":"x"})", 415, "Content-Type"},
      {"POST", "/api/records", "application/x-www-form-urlencoded", "content=x", 415,
       "application/json"},
      {"POST", "/api/records", "application/json; charset=latin1", R"({"content":"x"})", 415,
       "charset"},
      {"PUT", "/api/records/1", "", R"({"content":"x"})", 415, "Content-Type"},
      {"PUT", "/api/records/1", json, R"({"id":"2","content":"x"})", 400, "set by the URL path"},
      {"GET", "/api/records/-1", "", "", 400, "positive"},
      {"GET", "/api/records/0", "", "", 400, "positive"},
      {"GET", "/api/records/99999999999999999999", "", "", 400, "out of range"},
      {"GET", "/api/records/abc", "", "", 400, R"(field "id" (int64) in the URL path)"},
      {"GET", "/api/records/1.5", "", "", 400, "not a decimal integer"},
      {"GET", "/api/records/%zz", "", "", 400, "malformed %-escape"},
      {"GET", "/api/records/\xff", "", "", 400, "not a decimal integer"},
      {"GET", "/api/binlog?after_position=-1", "", "", 400, "must not be negative"},
      {"GET", "/api/binlog?after_position=18446744073709551616", "", "", 400, "out of range"},
      {"GET", "/api/binlog?limit=ten", "", "", 400, R"(field "limit" (int32))"},
      {"GET", "/api/binlog?limit=2147483648", "", "", 400, "out of range"},
      {"GET", "/api/binlog?nope=1", "", "", 400, R"(unknown query parameter "nope")"},
      {"GET", "/api/records?limit=1&limit=2", "", "", 400, "more than once"},
      {"GET", "/api/records?after_id=%FF", "", "", 400, "not valid UTF-8"},
      {"GET", "/api/records?limit=-5", "", "", 400, "limit"},
      {"GET", "/api/records", json, R"({"limit":1})", 400, "GET requests take no body"},
      {"DELETE", "/api/records/1", json, R"({"id":"1"})", 400, "takes no request body"},
      {"DELETE", "/api/records", "", "", 405, "not allowed", "GET, POST"},
      {"PATCH", "/api/records/1", json, "{}", 405, "not allowed", "DELETE, GET, PUT"},
      {"POST", "/api/status", json, "{}", 405, "not allowed", "GET"},
      {"POST", "/api/binlog/stream", json, "{}", 405, "not allowed", "GET"},
      {"GET", "/api/ack", "", "", 405, "not allowed", "POST"},
      {"OPTIONS", "/api/records", "", "", 405, "not allowed", "GET, POST"},
      {"POST", "/openapi.json", json, "{}", 405, "not allowed", "GET"},
      {"GET", "/api/nothing", "", "", 404, "no route"},
      {"GET", "/", "", "", 404, "no route"},
      {"GET", "/api/records/", "", "", 404, "no route"},
      {"GET", "/api//records", "", "", 404, "no route"},
      {"GET", "/api/records/1/extra", "", "", 404, "no route"},
      {"GET", "/API/RECORDS", "", "", 404, "no route"},
      {"DELETE", "/nowhere", "", "", 404, "no route"},
  };
  ASSERT_GE(cases.size(), 30u);
  httplib::Client c = Client();
  for (const BadRequest& bad : cases) {
    const std::string what = absl::StrCat(bad.method, " ", bad.path, " ", bad.body.substr(0, 40));
    httplib::Request req;
    req.method = bad.method;
    req.path = bad.path;
    req.body = bad.body;
    if (!bad.content_type.empty()) req.set_header("Content-Type", bad.content_type);
    httplib::Result r = c.send(req);
    ExpectJsonError(r, bad.status, bad.message_part, what);
    if (!bad.allow.empty() && r) {
      EXPECT_EQ(r->get_header_value("Allow"), bad.allow) << what;
    }
    // The server still serves, on this connection or a new one.
    auto ok = c.Get("/api/records/1");
    ASSERT_TRUE(ok) << "after " << what;
    EXPECT_EQ(ok->status, 200) << "after " << what;
  }

  // A chunked body over the limit (no Content-Length to refuse it by).
  auto chunked = c.Post(
      "/api/records",
      [&](size_t offset, httplib::DataSink& sink) {
        std::string block(64 << 10, 'b');
        for (int i = 0; i < 20; ++i) {
          if (!sink.write(block.data(), block.size())) return false;
        }
        sink.done();
        return true;
      },
      json);
  ExpectJsonError(chunked, 413, "over the limit", "chunked body over the limit");
  auto head = c.Head("/api/records");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  EXPECT_EQ(head->get_header_value("Allow"), "GET, POST");
  EXPECT_EQ(c.Get("/api/records/1")->status, 200);
}

TEST_F(GatewayTest, RawRequestsAsCurlAndBrokenClientsSendThem) {
  httplib::Client c = Client();
  Create(c, "existing");
  // curl -X POST without -d sends neither Content-Length nor a body: an empty message.
  std::string r =
      RawHttp(port_, "POST /api/records HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 200")) << r;
  EXPECT_THAT(r, HasSubstr(R"("content":"")"));
  // HTTP/1.0, pipelining.
  r = RawHttp(port_, "GET /api/records/1 HTTP/1.0\r\n\r\n");
  EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 200")) << r;
  r = RawHttp(port_,
              "GET /api/records/1 HTTP/1.1\r\nHost: h\r\n\r\n"
              "GET /api/records/2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(r, ::testing::ContainsRegex("^HTTP/1.1 200 OK.*HTTP/1.1 200 OK")) << r;
  // A body on a GET, which httplib would otherwise leave on the connection.
  r = RawHttp(port_,
              "GET /api/records HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n0\r\n\r\nGET /api/records/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 400")) << r;
  EXPECT_THAT(r, HasSubstr("GET requests take no body"));
  EXPECT_THAT(r, ::testing::Not(HasSubstr("HTTP/1.1 200"))) << "the body was read as a request";
  // Request lines httplib cannot route or parse.
  r = RawHttp(port_, "TRACE /api/records HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 405")) << r;
  EXPECT_THAT(r, HasSubstr("Allow: GET, POST"));
  for (const char* junk : {"BLAH\r\n\r\n", "FOO /api/records HTTP/1.1\r\n\r\n",
                           "GET /api/records HTTP/9.9 extra\r\n\r\n"}) {
    r = RawHttp(port_, junk);
    EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 400")) << junk << " -> " << r;
    EXPECT_THAT(r, HasSubstr(R"({"code":3,"message":)")) << junk;
  }
  EXPECT_EQ(c.Get("/api/records/1")->status, 200);
}

TEST_F(GatewayTest, ServesOpenApi) {
  auto r = Client().Get("/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  Struct doc = ParseJson(r->body);
  EXPECT_EQ(doc.fields().at("swagger").string_value(), "2.0");
  const Struct& paths = doc.fields().at("paths").struct_value();
  for (const char* p : {"/api/records", "/api/records/{id}", "/api/status", "/api/binlog",
                        "/api/binlog/stream", "/api/ack", "/api/register_slave"}) {
    EXPECT_TRUE(paths.fields().count(p)) << p;
  }
  EXPECT_FALSE(paths.fields().count("/api/sync/start"));  // a slave route
  EXPECT_TRUE(paths.fields().at("/api/records").struct_value().fields().count("post"));
}

TEST_F(GatewayTest, ManyConcurrentKeepAliveClients) {
  constexpr int kClients = 64;
  constexpr int kWrites = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c = Client();
      for (int i = 0; i < kWrites; ++i) {
        auto r = c.Post("/api/records", absl::StrCat(R"({"content":"c)", t, "-", i, R"("})"),
                        "application/json");
        if (r && r->status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kWrites);
  EXPECT_EQ(master_->Status().binlog_end_position(), static_cast<uint64_t>(kClients * kWrites));
}

TEST_F(GatewayTest, PortInUseIsAnError) {
  HttpGatewayOptions go;
  go.bind_address = "127.0.0.1";
  go.port = port_;
  HttpGateway second(go, server_.get(), {"semisync.v1.RecordsService"});
  auto s = second.Start();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
}

}  // namespace
}  // namespace gateway
}  // namespace semisync
