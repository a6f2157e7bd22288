// Merging of the embedded OpenAPI documents (see openapi.h).
#include "server/gateway/openapi.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace semisync {
namespace gateway {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::StatusOr<std::string> MergeOpenApiDocs(const std::vector<std::string>& docs,
                                             const std::string& title) {
  if (docs.empty()) return absl::InvalidArgumentError("no OpenAPI documents to merge");
  Struct merged;
  for (size_t i = 0; i < docs.size(); ++i) {
    Struct doc;
    auto s = google::protobuf::util::JsonStringToMessage(docs[i], &doc);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("OpenAPI document ", i, ": ", s.message().as_string()));
    }
    if (i == 0) {
      merged = doc;
      continue;
    }
    auto* paths = (*merged.mutable_fields())["paths"].mutable_struct_value()->mutable_fields();
    for (const auto& [path, ops] : doc.fields().at("paths").struct_value().fields()) {
      auto* target = (*paths)[path].mutable_struct_value()->mutable_fields();
      for (const auto& [verb, op] : ops.struct_value().fields()) {
        if (!target->insert({verb, op}).second) {
          return absl::AlreadyExistsError(
              absl::StrCat("OpenAPI: ", verb, " ", path, " is defined twice"));
        }
      }
    }
    auto it = doc.fields().find("definitions");
    if (it != doc.fields().end()) {
      auto* defs =
          (*merged.mutable_fields())["definitions"].mutable_struct_value()->mutable_fields();
      for (const auto& [name, def] : it->second.struct_value().fields()) defs->insert({name, def});
    }
  }
  auto* info = (*merged.mutable_fields())["info"].mutable_struct_value()->mutable_fields();
  (*info)["title"].set_string_value(title);
  (*info)["version"].set_string_value("v1");
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  auto s = google::protobuf::util::MessageToJsonString(merged, &out, options);
  if (!s.ok()) return absl::InternalError(s.message().as_string());
  return out;
}

absl::StatusOr<std::string> OpenApiForServices(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  std::vector<std::string> docs;
  std::set<std::string> files;
  std::vector<std::string> names;
  for (const auto* service : services) {
    names.push_back(service->full_name());
    const std::string& file = service->file()->name();
    if (!files.insert(file).second) continue;
    const char* json = nullptr;
    for (const EmbeddedOpenApiDoc& doc : EmbeddedOpenApiDocs()) {
      if (file == doc.proto_file) json = doc.json;
    }
    if (json == nullptr) {
      return absl::NotFoundError(absl::StrCat("no OpenAPI document was generated for ", file));
    }
    docs.emplace_back(json);
  }
  return MergeOpenApiDocs(docs, absl::StrCat("semisync: ", absl::StrJoin(names, ", ")));
}

}  // namespace gateway
}  // namespace semisync
