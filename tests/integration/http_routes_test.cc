// Multi-process HTTP tests: every documented route (docs/http_gateway.md, docs/operations.md) on a
// real semisync_master and semisync_slave, over real HTTP on loopback, following the seed's curl
// flows: create on the master and read on a slave, update, delete, status, binlog pages and the
// NDJSON / SSE tails, ack and register_slave with valid and invalid bodies, sync stop/start (and
// the slave's health following it), a write refused by a slave, /openapi.json, and /metrics with
// counters moving after writes. Also the grpc.health.v1 semantics of both roles.
//
// SQLite only (the replication suite covers MariaDB). Nothing sleeps for a fixed time: conditions
// are polled with deadlines (Eventually).
#include <httplib.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/integration/cluster.h"

namespace semisync {
namespace integration {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

// ---------------------------------------------------------------------------------------------
// HTTP and JSON helpers

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  Struct json;  // empty unless the body is a JSON object
};

class Http {
 public:
  explicit Http(int port) : client_("127.0.0.1", port) {
    client_.set_tcp_nodelay(true);
    client_.set_keep_alive(true);
    client_.set_connection_timeout(5, 0);
    client_.set_read_timeout(30, 0);
  }
  absl::StatusOr<Reply> Get(const std::string& path, const httplib::Headers& headers = {}) {
    return Wrap(client_.Get(path, headers), path);
  }
  absl::StatusOr<Reply> Post(const std::string& path, const std::string& body,
                             const std::string& type = "application/json") {
    return Wrap(client_.Post(path, body, type), path);
  }
  absl::StatusOr<Reply> Put(const std::string& path, const std::string& body) {
    return Wrap(client_.Put(path, body, "application/json"), path);
  }
  absl::StatusOr<Reply> Delete(const std::string& path) { return Wrap(client_.Delete(path), path); }
  httplib::Client& raw() { return client_; }

 private:
  static absl::StatusOr<Reply> Wrap(const httplib::Result& r, const std::string& path) {
    if (!r) return absl::UnavailableError(absl::StrCat(path, ": ", httplib::to_string(r.error())));
    Reply reply{r->status, r->body, r->get_header_value("Content-Type"), {}};
    if (absl::StartsWith(reply.content_type, "application/json")) {
      auto s = google::protobuf::util::JsonStringToMessage(reply.body, &reply.json);
      if (!s.ok()) return absl::InternalError(absl::StrCat(path, ": bad JSON: ", reply.body));
    }
    return reply;
  }
  httplib::Client client_;
};

const Value& Field(const Struct& s, const std::string& key) {
  static const Value* const kNull = new Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *kNull : it->second;
}
// 64-bit integers are JSON strings in proto3 JSON; 32-bit ones are numbers.
uint64_t U64(const Value& v) {
  uint64_t n = 0;
  if (v.has_string_value()) {
    EXPECT_TRUE(absl::SimpleAtoi(v.string_value(), &n)) << v.string_value();
  }
  if (v.has_number_value()) n = static_cast<uint64_t>(v.number_value());
  return n;
}

// Every field of `descriptor` is a key of `json` (zero values are printed too).
void ExpectAllFields(const Struct& json, const google::protobuf::Descriptor* descriptor,
                     const std::string& what) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    EXPECT_TRUE(json.fields().count(descriptor->field(i)->name()))
        << what << " lacks \"" << descriptor->field(i)->name() << "\"";
  }
}

void ExpectJsonError(const absl::StatusOr<Reply>& r, int http_status, const std::string& part,
                     const std::string& what) {
  ASSERT_TRUE(r.ok()) << what << ": " << r.status();
  EXPECT_EQ(r->status, http_status) << what << ": " << r->body;
  EXPECT_THAT(r->content_type, HasSubstr("application/json")) << what;
  EXPECT_GT(Field(r->json, "code").number_value(), 0) << what << ": " << r->body;
  EXPECT_TRUE(Field(r->json, "details").has_list_value()) << what << ": " << r->body;
  EXPECT_THAT(Field(r->json, "message").string_value(), HasSubstr(part)) << what;
}

// /metrics text as {"name{labels}": value}; checks the exposition's shape on the way.
absl::StatusOr<std::map<std::string, double>> ScrapeMetrics(Http& http) {
  absl::StatusOr<Reply> r = http.Get("/metrics");
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(absl::StrCat("/metrics: ", r->status));
  if (!absl::StartsWith(r->content_type, "text/plain; version=0.0.4")) {
    return absl::InternalError(absl::StrCat("/metrics content type ", r->content_type));
  }
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(r->body, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# HELP ") || absl::StartsWith(line, "# TYPE ")) continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) {
      return absl::InternalError(absl::StrCat("bad /metrics line: ", line));
    }
    out[std::string(line.substr(0, space))] = v;
  }
  return out;
}

double Metric(const std::map<std::string, double>& m, const std::string& series) {
  auto it = m.find(series);
  EXPECT_TRUE(it != m.end()) << "no series " << series;
  return it == m.end() ? -1 : it->second;
}

const char kCreateOk[] =
    "grpc_server_handled_total{method=\"semisync.v1.RecordsService/CreateRecord\",code=\"OK\"}";

// grpc.health.v1.Health/Check(service) on `node`: "SERVING", "NOT_SERVING", or an error.
absl::StatusOr<std::string> Health(const Node& node, const std::string& service) {
  auto channel = grpc::CreateChannel(node.address(), grpc::InsecureChannelCredentials());
  const grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s =
      grpc::internal::BlockingUnaryCall<grpc::health::v1::HealthCheckRequest,
                                        grpc::health::v1::HealthCheckResponse,
                                        grpc::protobuf::MessageLite, grpc::protobuf::MessageLite>(
          channel.get(), method, &ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

::testing::AssertionResult HealthBecomes(const Node& node, const std::string& service,
                                         const std::string& want) {
  return Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<std::string> got = Health(node, service);
        if (!got.ok()) return got.status();
        if (*got != want) return absl::UnavailableError(*got);
        return absl::OkStatus();
      },
      kWait, absl::StrCat(node.name(), " health \"", service, "\" becomes ", want));
}

// ---------------------------------------------------------------------------------------------
// Fixture: a master and one semi-sync slave, each with its HTTP port.

class HttpRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(master_, cluster_.StartMaster());
    ASSERT_OK_AND_ASSIGN(slave_, cluster_.StartSlave("slave1"));
    ASSERT_NE(master_->http_port(), 0);
    ASSERT_NE(slave_->http_port(), 0);
    m_ = std::make_unique<Http>(master_->http_port());
    s_ = std::make_unique<Http>(slave_->http_port());
    // The slave's stream is up, so semi-sync writes are acknowledged.
    ASSERT_TRUE(Eventually(
        [&] {
          absl::StatusOr<v1::MasterStatus> st = GetMasterStatus(*master_);
          return st.ok() && st->semi_sync().clients() == 1 && st->semi_sync().status();
        },
        kWait, "slave1 connected as a semi-sync slave"));
  }

  // POST /api/records on the master; returns the new id.
  int64_t CreateOverHttp(const std::string& content) {
    absl::StatusOr<Reply> r =
        m_->Post("/api/records", absl::StrCat(R"({"content":")", content, R"("})"));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(Field(Field(r->json, "write").struct_value(), "semi_sync_acked").bool_value())
        << r->body;
    return static_cast<int64_t>(U64(Field(Field(r->json, "record").struct_value(), "id")));
  }

  Cluster cluster_;
  Node* master_ = nullptr;
  Node* slave_ = nullptr;
  std::unique_ptr<Http> m_;  // master's HTTP port
  std::unique_ptr<Http> s_;  // slave's HTTP port
};

TEST_F(HttpRoutesTest, CreateOnMasterReadOnSlaveThenUpdateAndDelete) {
  const int64_t id = CreateOverHttp("Test record");
  ASSERT_GT(id, 0);
  const std::string path = absl::StrCat("/api/records/", id);

  // curl http://localhost:8081/api/records : the slave lists it once applied.
  ASSERT_TRUE(Eventually(
      [&]() -> absl::Status {
        absl::StatusOr<Reply> r = s_->Get("/api/records");
        if (!r.ok()) return r.status();
        for (const Value& rec : Field(r->json, "records").list_value().values()) {
          if (U64(Field(rec.struct_value(), "id")) == static_cast<uint64_t>(id) &&
              Field(rec.struct_value(), "content").string_value() == "Test record") {
            return absl::OkStatus();
          }
        }
        return absl::NotFoundError(r->body);
      },
      kWait, "the slave lists the new record"));
  absl::StatusOr<Reply> got = s_->Get(path);
  ASSERT_OK(got);
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(Field(got->json, "content").string_value(), "Test record");

  // Paging: after_id and limit from the query string.
  CreateOverHttp("second");
  absl::StatusOr<Reply> page = m_->Get(absl::StrCat("/api/records?after_id=", id, "&limit=1"));
  ASSERT_OK(page);
  ASSERT_EQ(page->status, 200) << page->body;
  ASSERT_EQ(Field(page->json, "records").list_value().values_size(), 1) << page->body;
  EXPECT_EQ(Field(Field(page->json, "records").list_value().values(0).struct_value(), "content")
                .string_value(),
            "second");

  absl::StatusOr<Reply> updated = m_->Put(path, R"({"content":"Updated record"})");
  ASSERT_OK(updated);
  EXPECT_EQ(updated->status, 200) << updated->body;
  ASSERT_TRUE(Eventually(
      [&] {
        absl::StatusOr<Reply> r = s_->Get(path);
        return r.ok() && Field(r->json, "content").string_value() == "Updated record";
      },
      kWait, "the slave sees the update"));

  absl::StatusOr<Reply> deleted = m_->Delete(path);
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->status, 200) << deleted->body;
  EXPECT_EQ(U64(Field(deleted->json, "id")), static_cast<uint64_t>(id));
  ASSERT_TRUE(Eventually([&] { return s_->Get(path).value_or(Reply{}).status == 404; }, kWait,
                         "the slave no longer has the record"));
  ExpectJsonError(m_->Get(path), 404, absl::StrCat(id), "GET a deleted record");
}

TEST_F(HttpRoutesTest, StatusHasEveryFieldOnMasterAndSlave) {
  CreateOverHttp("x");
  absl::StatusOr<Reply> m = m_->Get("/api/status");
  ASSERT_OK(m);
  ASSERT_EQ(m->status, 200) << m->body;
  ExpectAllFields(m->json, v1::MasterStatus::descriptor(), "master /api/status");
  ExpectAllFields(Field(m->json, "semi_sync").struct_value(), v1::SemiSyncCounters::descriptor(),
                  "semi_sync");
  ExpectAllFields(Field(m->json, "semi_sync_config").struct_value(),
                  v1::SemiSyncConfig::descriptor(), "semi_sync_config");
  EXPECT_EQ(Field(m->json, "role").string_value(), "master");
  ASSERT_EQ(Field(m->json, "slaves").list_value().values_size(), 1) << m->body;
  const Struct& info = Field(m->json, "slaves").list_value().values(0).struct_value();
  ExpectAllFields(info, v1::SlaveInfo::descriptor(), "slaves[0]");
  EXPECT_EQ(Field(info, "slave_id").string_value(), "slave1");

  absl::StatusOr<Reply> s = s_->Get("/api/status");
  ASSERT_OK(s);
  ASSERT_EQ(s->status, 200) << s->body;
  ExpectAllFields(s->json, v1::SlaveStatus::descriptor(), "slave /api/status");
  EXPECT_EQ(Field(s->json, "role").string_value(), "slave");
  EXPECT_EQ(Field(s->json, "master_uuid").string_value(),
            Field(m->json, "server_uuid").string_value());
  EXPECT_TRUE(Field(s->json, "io_running").bool_value());
}

TEST_F(HttpRoutesTest, BinlogPagesWithAfterPositionAndLimit) {
  absl::StatusOr<Reply> before = m_->Get("/api/binlog?after_position=0&limit=1");
  ASSERT_OK(before);
  const uint64_t start = U64(Field(before->json, "binlog_end_position"));
  for (int i = 0; i < 5; ++i) CreateOverHttp(absl::StrCat("event", i));

  // curl 'http://localhost:8080/api/binlog?after_position=10&limit=100', two at a time.
  std::vector<uint64_t> positions;
  uint64_t after = start;
  for (int page = 0; page < 3; ++page) {
    absl::StatusOr<Reply> r =
        m_->Get(absl::StrCat("/api/binlog?after_position=", after, "&limit=2"));
    ASSERT_OK(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(U64(Field(r->json, "binlog_end_position")), start + 5);
    ExpectAllFields(r->json, v1::GetBinlogResponse::descriptor(), "/api/binlog");
    const auto& events = Field(r->json, "events").list_value().values();
    EXPECT_EQ(events.size(), page < 2 ? 2 : 1) << r->body;
    for (const Value& e : events) {
      positions.push_back(U64(Field(e.struct_value(), "position")));
      EXPECT_EQ(Field(e.struct_value(), "op").string_value(), "ROW_OP_INSERT");
    }
    if (!positions.empty()) after = positions.back();
  }
  EXPECT_EQ(positions,
            (std::vector<uint64_t>{start + 1, start + 2, start + 3, start + 4, start + 5}));
  ExpectJsonError(m_->Get("/api/binlog?limit=abc"), 400, "limit", "non-numeric limit");
  ExpectJsonError(m_->Get("/api/binlog?limit=20000"), 400, "limit", "limit over 10000");
  // The binlog is the master's: a slave has no such route.
  ExpectJsonError(s_->Get("/api/binlog"), 404, "", "/api/binlog on a slave");
}

TEST_F(HttpRoutesTest, BinlogStreamTailsLiveAsNdjsonAndSse) {
  ASSERT_OK(m_->Post("/api/register_slave", R"({"slave_id":"watcher","semi_sync":false})"));
  absl::StatusOr<v1::MasterStatus> st = GetMasterStatus(*master_);
  ASSERT_OK(st);
  const uint64_t start = st->binlog_end_position();
  for (bool sse : {false, true}) {
    SCOPED_TRACE(sse ? "SSE" : "NDJSON");
    const uint64_t from = GetMasterStatus(*master_).value().binlog_end_position();
    Http tail(master_->http_port());
    httplib::Headers headers;
    if (sse) headers.emplace("Accept", "text/event-stream");
    std::string received;
    std::string content_type;
    // A writer thread adds events once the stream is open; the receiver stops after two.
    std::thread writer;
    auto result = tail.raw().Get(
        absl::StrCat("/api/binlog/stream?slave_id=watcher&after_position=", from), headers,
        [&](const httplib::Response& res) {
          content_type = res.get_header_value("Content-Type");
          writer = std::thread([&] {
            for (int i = 0; i < 2; ++i) ASSERT_OK(CreateRecord(*master_, absl::StrCat("live", i)));
          });
          return true;
        },
        [&](const char* data, size_t n) {
          received.append(data, n);
          return !(absl::StrContains(received, absl::StrCat("\"position\":\"", from + 2, "\"")));
        });
    if (writer.joinable()) writer.join();
    EXPECT_EQ(result.error(), httplib::Error::Canceled) << httplib::to_string(result.error());
    EXPECT_THAT(content_type, HasSubstr(sse ? "text/event-stream" : "application/x-ndjson"));
    EXPECT_THAT(received, HasSubstr(sse ? "data: {\"result\":" : "{\"result\":"));
    EXPECT_THAT(received, HasSubstr(absl::StrCat("\"position\":\"", from + 1, "\"")));
  }
  EXPECT_GT(GetMasterStatus(*master_).value().binlog_end_position(), start);
}

TEST_F(HttpRoutesTest, AckAndRegisterSlaveWithValidAndInvalidBodies) {
  absl::StatusOr<Reply> reg =
      m_->Post("/api/register_slave", R"({"slave_id":"watcher","address":"127.0.0.1:1"})");
  ASSERT_OK(reg);
  EXPECT_EQ(reg->status, 200) << reg->body;
  EXPECT_FALSE(Field(reg->json, "master_uuid").string_value().empty()) << reg->body;
  ExpectAllFields(reg->json, v1::RegisterSlaveResponse::descriptor(), "register_slave");

  CreateOverHttp("to ack");
  const uint64_t end = GetMasterStatus(*master_).value().binlog_end_position();
  absl::StatusOr<Reply> ack =
      m_->Post("/api/ack", absl::StrCat(R"({"slave_id":"watcher","received_position":)", end,
                                        R"(,"applied_position":")", end, R"("})"));
  ASSERT_OK(ack);
  EXPECT_EQ(ack->status, 200) << ack->body;
  EXPECT_EQ(U64(Field(ack->json, "binlog_end_position")), end);
  absl::StatusOr<v1::MasterStatus> st = GetMasterStatus(*master_);
  ASSERT_OK(st);
  bool listed = false;
  for (const v1::SlaveInfo& s : st->slaves()) {
    if (s.slave_id() == "watcher") listed = s.acked_position() == end;
  }
  EXPECT_TRUE(listed) << st->DebugString();

  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave_id":""})"), 400, "slave_id",
                  "empty slave_id");
  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave_id":"bad id!"})"), 400, "slave_id",
                  "slave_id with a space");
  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave_id":"w","semi_sync":"maybe"})"), 400,
                  "semi_sync", "a string for a bool");
  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave_id":["w"]})"), 400, "slave_id",
                  "an array for a string");
  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave":"w"})"), 400, "slave",
                  "unknown field");
  ExpectJsonError(m_->Post("/api/register_slave", R"({"slave_id":"w",})"), 400, "",
                  "trailing comma");
  ExpectJsonError(m_->Post("/api/register_slave", "slave_id=w", "text/plain"), 415, "", "not JSON");
  ExpectJsonError(m_->Post("/api/ack", R"({"slave_id":"nobody","received_position":1})"), 400,
                  "not registered", "ack from an unregistered slave");
  ExpectJsonError(m_->Post("/api/ack", absl::StrCat(R"({"slave_id":"watcher","received_position":)",
                                                    end + 100, "}")),
                  400, "beyond the binlog end", "ack past the end");
  ExpectJsonError(m_->Post("/api/ack", R"({"slave_id":"watcher","received_position":-1})"), 400,
                  "received_position", "negative position");
  ExpectJsonError(m_->Get("/api/ack"), 405, "", "GET on a POST route");
}

TEST_F(HttpRoutesTest, SyncStopAndStartChangeSlaveStatusAndHealth) {
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "SERVING"));
  ASSERT_TRUE(HealthBecomes(*slave_, "", "SERVING"));
  ASSERT_TRUE(HealthBecomes(*master_, "", "SERVING"));
  ASSERT_TRUE(HealthBecomes(*master_, "semisync.v1.ReplicationService", "SERVING"));

  absl::StatusOr<Reply> stop = s_->Post("/api/sync/stop", "{}");
  ASSERT_OK(stop);
  ASSERT_EQ(stop->status, 200) << stop->body;
  const Struct& stopped = Field(stop->json, "status").struct_value();
  EXPECT_FALSE(Field(stopped, "io_running").bool_value()) << stop->body;
  EXPECT_FALSE(Field(stopped, "sql_running").bool_value()) << stop->body;
  absl::StatusOr<Reply> status = s_->Get("/api/status");
  ASSERT_OK(status);
  EXPECT_FALSE(Field(status->json, "io_running").bool_value()) << status->body;
  EXPECT_FALSE(Field(status->json, "sql_running").bool_value()) << status->body;
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "NOT_SERVING"));
  EXPECT_EQ(Health(*slave_, "").value_or("error"), "SERVING") << "the node still serves reads";

  // An empty body is accepted as well (the request message has no fields).
  absl::StatusOr<Reply> start = s_->Post("/api/sync/start", "");
  ASSERT_OK(start);
  ASSERT_EQ(start->status, 200) << start->body;
  EXPECT_TRUE(Field(Field(start->json, "status").struct_value(), "io_running").bool_value());
  EXPECT_TRUE(Field(Field(start->json, "status").struct_value(), "sql_running").bool_value());
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "SERVING"));

  // Sync routes are the slave's: the master has none.
  ExpectJsonError(m_->Post("/api/sync/stop", "{}"), 404, "", "/api/sync/stop on the master");
}

TEST_F(HttpRoutesTest, SlaveHealthIsNotServingWhileTheMasterIsDown) {
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "SERVING"));
  ASSERT_OK(cluster_.Kill(*master_));
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "NOT_SERVING"));
  ASSERT_OK(cluster_.Restart(*master_));
  ASSERT_TRUE(HealthBecomes(*slave_, "semisync.v1.SlaveService", "SERVING"));
}

TEST_F(HttpRoutesTest, WriteToSlaveIsRefusedNamingTheMaster) {
  const std::string master_address = master_->address();
  ExpectJsonError(s_->Post("/api/records", R"({"content":"Test record"})"), 400, master_address,
                  "POST /api/records on a slave");
  ExpectJsonError(s_->Put("/api/records/1", R"({"content":"x"})"), 400, master_address,
                  "PUT on a slave");
  ExpectJsonError(s_->Delete("/api/records/1"), 400, master_address, "DELETE on a slave");
  absl::StatusOr<Reply> r = s_->Post("/api/records", R"({"content":"Test record"})");
  ASSERT_OK(r);
  EXPECT_EQ(Field(r->json, "code").number_value(), 9) << "FAILED_PRECONDITION";
}

TEST_F(HttpRoutesTest, OpenApiIsServedByBothRoles) {
  for (Http* http : {m_.get(), s_.get()}) {
    absl::StatusOr<Reply> r = http->Get("/openapi.json");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(Field(r->json, "swagger").string_value(), "2.0") << r->body.substr(0, 200);
    EXPECT_THAT(r->body, HasSubstr("/api/records/{id}"));
  }
}

TEST_F(HttpRoutesTest, MetricsMoveAfterWrites) {
  ASSERT_OK_AND_ASSIGN(auto m0, ScrapeMetrics(*m_));
  ASSERT_OK_AND_ASSIGN(auto s0, ScrapeMetrics(*s_));
  const double yes0 = Metric(m0, "rpl_semi_sync_master_yes_tx_total");
  const double end0 = Metric(m0, "semisync_master_binlog_end_position");
  const double creates0 = m0.count(kCreateOk) ? m0.at(kCreateOk) : 0;
  EXPECT_EQ(Metric(m0, "rpl_semi_sync_master_status"), 1);
  EXPECT_EQ(Metric(m0, "rpl_semi_sync_master_clients"), 1);
  EXPECT_EQ(Metric(s0, "semisync_slave_io_running"), 1);
  EXPECT_EQ(Metric(s0, "semisync_slave_sql_running"), 1);

  // Three writes over HTTP and two over gRPC: the interceptor counts both.
  for (int i = 0; i < 3; ++i) CreateOverHttp(absl::StrCat("metric", i));
  for (int i = 0; i < 2; ++i) ASSERT_OK(CreateRecord(*master_, absl::StrCat("grpc", i)));

  ASSERT_OK_AND_ASSIGN(auto m1, ScrapeMetrics(*m_));
  EXPECT_GE(Metric(m1, "rpl_semi_sync_master_yes_tx_total"), yes0 + 5);
  EXPECT_GE(Metric(m1, "rpl_semi_sync_master_tx_wait_seconds_total"), 0);
  EXPECT_EQ(Metric(m1, "semisync_master_binlog_end_position"), end0 + 5);
  EXPECT_GT(Metric(m1, "semisync_master_binlog_bytes"), 0);
  EXPECT_EQ(Metric(m1, kCreateOk), creates0 + 5);
  const std::string create_hist =
      "grpc_server_handling_seconds_count{method=\"semisync.v1.RecordsService/CreateRecord\"}";
  EXPECT_GE(Metric(m1, create_hist), 5);
  EXPECT_EQ(Metric(m1,
                   "grpc_server_handling_seconds_bucket{method=\"semisync.v1.RecordsService/"
                   "CreateRecord\",le=\"+Inf\"}"),
            Metric(m1, create_hist));
  EXPECT_EQ(Metric(m1, "semisync_master_slave_connected{slave_id=\"slave1\"}"), 1);
  EXPECT_GE(Metric(m1, "semisync_master_slave_acked_position{slave_id=\"slave1\"}"), end0 + 5);

  // The slave applies the five events; its own reads are counted too.
  ASSERT_TRUE(cluster_.WaitForSlaveCaughtUp(*slave_));
  ASSERT_OK(s_->Get("/api/records"));
  ASSERT_OK_AND_ASSIGN(auto s1, ScrapeMetrics(*s_));
  EXPECT_EQ(Metric(s1, "semisync_slave_applied_position"), end0 + 5);
  EXPECT_EQ(Metric(s1, "semisync_slave_received_position"), end0 + 5);
  EXPECT_EQ(Metric(s1, "semisync_slave_lag_events"), 0);
  EXPECT_GT(Metric(s1, "semisync_slave_relay_log_bytes"), 0);
  EXPECT_EQ(Metric(s1, "semisync_slave_apply_errors_total"), 0);
  EXPECT_GT(Metric(s1, "semisync_slave_apply_transactions_total"), 0);
  EXPECT_GE(Metric(s1,
                   "grpc_server_handled_total{method=\"semisync.v1.RecordsService/"
                   "ListRecords\",code=\"OK\"}"),
            1);
  // The slave's lag is visible from the master once it acked its applied position.
  ASSERT_TRUE(Eventually(
      [&] {
        auto m = ScrapeMetrics(*m_);
        return m.ok() && m->count("semisync_master_slave_applied_position{slave_id=\"slave1\"}") &&
               m->at("semisync_master_slave_applied_position{slave_id=\"slave1\"}") == end0 + 5 &&
               m->at("semisync_master_slave_lag_events{slave_id=\"slave1\"}") == 0;
      },
      kWait, "the master sees slave1's applied position"));
}

}  // namespace
}  // namespace integration
}  // namespace semisync
