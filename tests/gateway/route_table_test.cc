// RouteTable: routes read from google.api.http annotations: the real services' routes, and
// additional_bindings, custom verbs, body and response_body fields and the start-up errors, on
// services built at run time.
#include "server/gateway/route_table.h"

#include <functional>

#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "gtest/gtest.h"
#include "semisync/v1/records.pb.h"
#include "semisync/v1/replication.pb.h"
#include "semisync/v1/slave.pb.h"
#include "server/gateway/json_transcoder.h"

namespace semisync {
namespace gateway {
namespace {

using google::protobuf::FieldDescriptorProto;
using google::protobuf::MethodDescriptorProto;
using ::testing::HasSubstr;

// The gateway finds services in the generated pool, which only holds the .proto files linked
// into the binary; a real server links them through its service implementations.
void LinkProtos() {
  (void)v1::Record::descriptor();
  (void)v1::GetBinlogRequest::descriptor();
  (void)v1::SlaveStatus::descriptor();
}

TEST(RouteTableTest, MasterServicesHaveEveryDocumentedRoute) {
  LinkProtos();
  auto table = RouteTable::Build({"semisync.v1.RecordsService", "semisync.v1.ReplicationService"});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->routes().size(), 10u);
  const PathMatcher& m = (*table)->matcher();
  struct Case {
    const char* method;
    const char* path;
    const char* grpc;
  } cases[] = {
      {"GET", "/api/records", "/semisync.v1.RecordsService/ListRecords"},
      {"GET", "/api/records/3", "/semisync.v1.RecordsService/GetRecord"},
      {"POST", "/api/records", "/semisync.v1.RecordsService/CreateRecord"},
      {"PUT", "/api/records/3", "/semisync.v1.RecordsService/UpdateRecord"},
      {"DELETE", "/api/records/3", "/semisync.v1.RecordsService/DeleteRecord"},
      {"GET", "/api/status", "/semisync.v1.ReplicationService/GetStatus"},
      {"GET", "/api/binlog", "/semisync.v1.ReplicationService/GetBinlog"},
      {"GET", "/api/binlog/stream", "/semisync.v1.ReplicationService/SubscribeBinlog"},
      {"POST", "/api/ack", "/semisync.v1.ReplicationService/Ack"},
      {"POST", "/api/register_slave", "/semisync.v1.ReplicationService/RegisterSlave"},
  };
  for (const Case& c : cases) {
    PathMatch r = m.Match(c.method, c.path);
    ASSERT_EQ(r.kind, PathMatch::Kind::kFound) << c.method << " " << c.path;
    const Route& route = (*table)->route(r.route);
    EXPECT_EQ(route.grpc_path, c.grpc);
    EXPECT_EQ(route.server_streaming, std::string(c.path) == "/api/binlog/stream");
  }
  const Route& create = (*table)->route(m.Match("POST", "/api/records").route);
  EXPECT_EQ(create.body_field, "*");
  EXPECT_EQ(create.request_prototype->GetDescriptor()->full_name(),
            "semisync.v1.CreateRecordRequest");
}

TEST(RouteTableTest, SlaveServicesAndUnknownService) {
  LinkProtos();
  auto slave = RouteTable::Build({"semisync.v1.RecordsService", "semisync.v1.SlaveService"});
  ASSERT_TRUE(slave.ok()) << slave.status();
  EXPECT_EQ((*slave)->routes().size(), 8u);
  EXPECT_EQ((*slave)->matcher().Match("POST", "/api/sync/stop").kind, PathMatch::Kind::kFound);
  auto bad = RouteTable::Build({"semisync.v1.NoSuchService"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  // The master's and the slave's GET /api/status would conflict in one process.
  auto both = RouteTable::Build({"semisync.v1.ReplicationService", "semisync.v1.SlaveService"});
  EXPECT_EQ(both.status().code(), absl::StatusCode::kAlreadyExists);
}

// gwtest.Svc, built at run time: Req {int64 id; Inner inner; repeated string tags},
// Resp {string value; Inner inner}, Inner {string name}; `customize` adds the methods.
class DynamicService {
 public:
  explicit DynamicService(
      const std::function<void(google::protobuf::ServiceDescriptorProto*)>& customize) {
    google::protobuf::FileDescriptorProto file;
    file.set_name("gwtest.proto");
    file.set_package("gwtest");
    file.set_syntax("proto3");
    auto field = [](google::protobuf::DescriptorProto* m, const char* name, int number,
                    FieldDescriptorProto::Type type, const char* type_name = nullptr,
                    bool repeated = false) {
      auto* f = m->add_field();
      f->set_name(name);
      f->set_number(number);
      f->set_type(type);
      f->set_label(repeated ? FieldDescriptorProto::LABEL_REPEATED
                            : FieldDescriptorProto::LABEL_OPTIONAL);
      if (type_name != nullptr) f->set_type_name(type_name);
    };
    auto* inner = file.add_message_type();
    inner->set_name("Inner");
    field(inner, "name", 1, FieldDescriptorProto::TYPE_STRING);
    auto* req = file.add_message_type();
    req->set_name("Req");
    field(req, "id", 1, FieldDescriptorProto::TYPE_INT64);
    field(req, "inner", 2, FieldDescriptorProto::TYPE_MESSAGE, ".gwtest.Inner");
    field(req, "tags", 3, FieldDescriptorProto::TYPE_STRING, nullptr, /*repeated=*/true);
    auto* resp = file.add_message_type();
    resp->set_name("Resp");
    field(resp, "value", 1, FieldDescriptorProto::TYPE_STRING);
    field(resp, "inner", 2, FieldDescriptorProto::TYPE_MESSAGE, ".gwtest.Inner");
    auto* svc = file.add_service();
    svc->set_name("Svc");
    customize(svc);
    EXPECT_NE(pool_.BuildFile(file), nullptr);
  }

  absl::StatusOr<std::unique_ptr<RouteTable>> Build() {
    return RouteTable::Build({"gwtest.Svc"}, &pool_, &factory_);
  }

  static google::api::HttpRule* AddMethod(google::protobuf::ServiceDescriptorProto* svc,
                                          const char* name, bool client_streaming = false) {
    MethodDescriptorProto* m = svc->add_method();
    m->set_name(name);
    m->set_input_type(".gwtest.Req");
    m->set_output_type(".gwtest.Resp");
    m->set_client_streaming(client_streaming);
    return m->mutable_options()->MutableExtension(google::api::http);
  }

 private:
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
};

TEST(RouteTableTest, AdditionalBindingsCustomVerbsAndBodyFields) {
  DynamicService dyn([](google::protobuf::ServiceDescriptorProto* svc) {
    google::api::HttpRule* get = DynamicService::AddMethod(svc, "Get");
    get->set_get("/v1/items/{id}");
    get->set_response_body("inner");
    google::api::HttpRule* extra = get->add_additional_bindings();
    extra->set_post("/v1/items/{id}:fetch");
    extra->set_body("inner");
    google::api::HttpRule* report = DynamicService::AddMethod(svc, "Report");
    report->mutable_custom()->set_kind("REPORT");
    report->mutable_custom()->set_path("/v1/{inner.name=reports/*}");
    svc->add_method()->CopyFrom(svc->method(0));
    svc->mutable_method(2)->set_name("NoRoute");
    svc->mutable_method(2)->clear_options();
    DynamicService::AddMethod(svc, "Upload", /*client_streaming=*/true)->set_post("/v1/upload");
  });
  auto table = dyn.Build();
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ((*table)->routes().size(), 3u);  // Get twice, Report; NoRoute and Upload skipped
  const PathMatcher& m = (*table)->matcher();

  PathMatch get = m.Match("GET", "/v1/items/5");
  ASSERT_EQ(get.kind, PathMatch::Kind::kFound);
  EXPECT_EQ((*table)->route(get.route).grpc_path, "/gwtest.Svc/Get");
  EXPECT_EQ((*table)->route(get.route).response_body_field, "inner");
  EXPECT_EQ((*table)->route(get.route).body_field, "");

  PathMatch fetch = m.Match("POST", "/v1/items/5:fetch");
  ASSERT_EQ(fetch.kind, PathMatch::Kind::kFound);
  const Route& extra = (*table)->route(fetch.route);
  EXPECT_EQ(extra.grpc_path, "/gwtest.Svc/Get");
  EXPECT_EQ(extra.body_field, "inner");
  // The additional binding transcodes like any route: named body field plus path variable.
  std::unique_ptr<google::protobuf::Message> req(extra.request_prototype->New());
  ASSERT_TRUE(TranscodeRequest(extra.body_field, R"({"name":"n"})", fetch.bindings, {{"tags", "a"}},
                               req.get())
                  .ok());
  EXPECT_EQ(req->ShortDebugString(), R"(id: 5 inner { name: "n" } tags: "a")");

  PathMatch report = m.Match("REPORT", "/v1/reports/q3");
  ASSERT_EQ(report.kind, PathMatch::Kind::kFound);
  EXPECT_EQ(report.bindings[0].value, "reports/q3");
  EXPECT_THAT(m.Match("GET", "/v1/reports/q3").allowed_methods, ::testing::ElementsAre("REPORT"));
}

struct BadRule {
  const char* what;
  std::function<void(google::api::HttpRule*)> rule;
  absl::StatusCode code;
  const char* problem;
};

void PrintTo(const BadRule& b, std::ostream* os) { *os << b.what; }

class BadRuleTest : public ::testing::TestWithParam<BadRule> {};

TEST_P(BadRuleTest, FailsAtStartUpNamingTheMethod) {
  DynamicService dyn([](google::protobuf::ServiceDescriptorProto* svc) {
    GetParam().rule(DynamicService::AddMethod(svc, "M"));
  });
  auto table = dyn.Build();
  ASSERT_FALSE(table.ok()) << GetParam().what;
  EXPECT_EQ(table.status().code(), GetParam().code) << table.status();
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("gwtest.Svc.M"));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr(GetParam().problem));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadRuleTest,
    ::testing::Values(BadRule{"bad template", [](auto* r) { r->set_get("/v1/{id"); },
                              absl::StatusCode::kInvalidArgument, "unterminated variable"},
                      BadRule{"unknown variable", [](auto* r) { r->set_get("/v1/{nope}"); },
                              absl::StatusCode::kInvalidArgument,
                              R"(no field "nope" in gwtest.Req)"},
                      BadRule{"repeated variable", [](auto* r) { r->set_get("/v1/{tags}"); },
                              absl::StatusCode::kInvalidArgument, "repeated field"},
                      BadRule{"message variable", [](auto* r) { r->set_get("/v1/{inner}"); },
                              absl::StatusCode::kInvalidArgument, "is a message"},
                      BadRule{"unknown body",
                              [](auto* r) {
                                r->set_post("/v1/x");
                                r->set_body("nope");
                              },
                              absl::StatusCode::kInvalidArgument, "not a top-level field"},
                      BadRule{"unknown response body",
                              [](auto* r) {
                                r->set_get("/v1/x");
                                r->set_response_body("nope");
                              },
                              absl::StatusCode::kInvalidArgument, "response_body"},
                      BadRule{"no pattern", [](auto* r) { r->set_body("*"); },
                              absl::StatusCode::kInvalidArgument, "without a pattern"},
                      BadRule{"unknown variable in an additional binding",
                              [](auto* r) {
                                r->set_get("/v1/{id}");
                                r->add_additional_bindings()->set_get("/v1/{name}");
                              },
                              absl::StatusCode::kInvalidArgument, R"(no field "name")"},
                      BadRule{"conflicting binding",
                              [](auto* r) {
                                r->set_get("/v1/{id}");
                                r->add_additional_bindings()->set_get("/v1/{inner.name}");
                              },
                              absl::StatusCode::kAlreadyExists, "conflicts"}));

}  // namespace
}  // namespace gateway
}  // namespace semisync
