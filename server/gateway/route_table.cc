// RouteTable (see route_table.h).
#include "server/gateway/route_table.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "server/gateway/http_template.h"
#include "server/gateway/json_transcoder.h"

namespace semisync {
namespace gateway {
namespace {

using google::protobuf::MethodDescriptor;

// The (method, path) pair of one HttpRule, or an error for a rule without a pattern.
absl::Status RulePattern(const google::api::HttpRule& rule, std::string* method,
                         std::string* path) {
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      *method = "GET";
      *path = rule.get();
      break;
    case google::api::HttpRule::kPut:
      *method = "PUT";
      *path = rule.put();
      break;
    case google::api::HttpRule::kPost:
      *method = "POST";
      *path = rule.post();
      break;
    case google::api::HttpRule::kDelete:
      *method = "DELETE";
      *path = rule.delete_();
      break;
    case google::api::HttpRule::kPatch:
      *method = "PATCH";
      *path = rule.patch();
      break;
    case google::api::HttpRule::kCustom:
      *method = rule.custom().kind();
      *path = rule.custom().path();
      break;
    default:
      return absl::InvalidArgumentError("google.api.http rule without a pattern");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RouteTable>> RouteTable::Build(
    const std::vector<std::string>& service_names, const google::protobuf::DescriptorPool* pool,
    google::protobuf::MessageFactory* factory) {
  std::unique_ptr<RouteTable> table(new RouteTable());
  PathMatcher::Builder builder;
  for (const std::string& name : service_names) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("HTTP gateway: unknown gRPC service ", name, " (is its .pb.cc linked in?)"));
    }
    table->services_.push_back(service);
    for (int m = 0; m < service->method_count(); ++m) {
      const MethodDescriptor* method = service->method(m);
      if (!method->options().HasExtension(google::api::http)) {
        LOG(INFO) << "HTTP gateway: " << method->full_name() << " has no HTTP route";
        continue;
      }
      if (method->client_streaming()) {
        LOG(WARNING) << "HTTP gateway: skipping client-streaming method " << method->full_name();
        continue;
      }
      const google::api::HttpRule& top = method->options().GetExtension(google::api::http);
      std::vector<const google::api::HttpRule*> rules = {&top};
      for (const auto& extra : top.additional_bindings()) rules.push_back(&extra);
      for (const google::api::HttpRule* rule : rules) {
        Route route;
        auto where = [&](absl::string_view what) {
          return absl::InvalidArgumentError(
              absl::StrCat("HTTP gateway: ", method->full_name(), ": ", what));
        };
        if (absl::Status s = RulePattern(*rule, &route.http_method, &route.http_template);
            !s.ok()) {
          return where(s.message());
        }
        absl::StatusOr<HttpTemplate> tmpl = HttpTemplate::Parse(route.http_template);
        if (!tmpl.ok()) return where(tmpl.status().message());
        for (const HttpTemplate::Variable& v : tmpl->variables()) {
          std::vector<const google::protobuf::FieldDescriptor*> fields;
          if (absl::Status s = ResolveFieldPath(method->input_type(), v.field_path, false, &fields);
              !s.ok()) {
            return where(s.message());
          }
        }
        route.body_field = rule->body();
        if (absl::Status s = CheckBodyField(method->input_type(), route.body_field); !s.ok()) {
          return where(s.message());
        }
        route.response_body_field = rule->response_body();
        if (!route.response_body_field.empty() &&
            method->output_type()->FindFieldByName(route.response_body_field) == nullptr) {
          return where(absl::StrCat("response_body \"", route.response_body_field,
                                    "\" is not a field of ", method->output_type()->full_name()));
        }
        route.method = method;
        route.grpc_path = absl::StrCat("/", service->full_name(), "/", method->name());
        route.server_streaming = method->server_streaming();
        route.request_prototype = factory->GetPrototype(method->input_type());
        route.response_prototype = factory->GetPrototype(method->output_type());
        if (route.request_prototype == nullptr || route.response_prototype == nullptr) {
          return where("no generated message class for its request or response");
        }
        const int id = static_cast<int>(table->routes_.size());
        if (absl::Status s = builder.Add(route.http_method, *std::move(tmpl), id); !s.ok()) {
          return absl::AlreadyExistsError(
              absl::StrCat("HTTP gateway: ", method->full_name(), ": ", s.message()));
        }
        table->routes_.push_back(std::move(route));
      }
    }
  }
  table->matcher_ = std::move(builder).Build();
  return table;
}

}  // namespace gateway
}  // namespace semisync
