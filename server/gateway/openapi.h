// The OpenAPI v2 (Swagger) document served at GET /openapi.json.
//
// protoc-gen-swagger (Debian's golang-grpc-gateway) generates one document per .proto file at
// build time from the same google.api.http annotations the gateway routes by; embed_openapi.cmake
// compiles them into the library (EmbeddedOpenApiDocs). At start-up the gateway merges the
// documents of the files that define its exposed services, so the master's document describes
// RecordsService + ReplicationService and a slave's RecordsService + SlaveService.
//
// Pure functions; thread-safe.
#ifndef SEMISYNC_SERVER_GATEWAY_OPENAPI_H_
#define SEMISYNC_SERVER_GATEWAY_OPENAPI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace semisync {
namespace gateway {

struct EmbeddedOpenApiDoc {
  const char* proto_file;  // "semisync/v1/records.proto"
  const char* json;        // its swagger document
};

// Defined in the generated openapi_docs.cc.
const std::vector<EmbeddedOpenApiDoc>& EmbeddedOpenApiDocs();

// Merges swagger documents: the first one's header fields, the union of "paths" (operations of
// the same path are merged; a path+method defined twice is an error) and of "definitions".
absl::StatusOr<std::string> MergeOpenApiDocs(const std::vector<std::string>& docs,
                                             const std::string& title);

// The merged embedded document for the files defining `services`. NotFound when a file has no
// embedded document.
absl::StatusOr<std::string> OpenApiForServices(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services);

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_OPENAPI_H_
