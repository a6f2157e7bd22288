// RouteTable: every HTTP route of the exposed gRPC services, read once from the methods'
// `google.api.http` options (including additional_bindings) into an immutable PathMatcher.
//
// Immutable after Build(); thread-safe. Descriptors and prototypes come from the generated pool
// and live for the whole process.
#ifndef SEMISYNC_SERVER_GATEWAY_ROUTE_TABLE_H_
#define SEMISYNC_SERVER_GATEWAY_ROUTE_TABLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "server/gateway/path_matcher.h"

namespace semisync {
namespace gateway {

struct Route {
  std::string http_method;          // "GET", "POST", ... or a custom verb's kind
  std::string http_template;        // as written in the annotation
  std::string body_field;           // "", "*" or a top-level request field
  std::string response_body_field;  // "" or a top-level response field
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string grpc_path;  // "/semisync.v1.RecordsService/CreateRecord"
  bool server_streaming = false;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
};

class RouteTable {
 public:
  // Services by full name ("semisync.v1.RecordsService"), looked up in `pool`, with message
  // prototypes from `factory` (both must outlive the table). Fails on an unknown service, a bad
  // template, a binding to a field that does not exist or cannot be bound, or two routes with the
  // same method and template. Client-streaming methods and methods without an annotation are
  // skipped (logged).
  static absl::StatusOr<std::unique_ptr<RouteTable>> Build(
      const std::vector<std::string>& service_names,
      const google::protobuf::DescriptorPool* pool =
          google::protobuf::DescriptorPool::generated_pool(),
      google::protobuf::MessageFactory* factory =
          google::protobuf::MessageFactory::generated_factory());

  const PathMatcher& matcher() const { return matcher_; }
  const Route& route(int i) const { return routes_[i]; }
  const std::vector<Route>& routes() const { return routes_; }
  const std::vector<const google::protobuf::ServiceDescriptor*>& services() const {
    return services_;
  }

 private:
  RouteTable() = default;

  std::vector<const google::protobuf::ServiceDescriptor*> services_;
  std::vector<Route> routes_;
  PathMatcher matcher_;
};

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_ROUTE_TABLE_H_
