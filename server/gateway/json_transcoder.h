// JSON <-> protobuf transcoding for one HTTP route, driven by descriptors only.
//
// Request: the message is built from, in order,
//   1. the body: body "*" parses the whole JSON object into the request message; a named body
//      field parses the JSON value into that top-level field; no body mapping takes no body;
//   2. path variables, bound by (dotted) field path; a body that sets the same field to another
//      value is an error;
//   3. query parameters for the fields left: "?after_position=10&limit=100", dotted names for
//      nested fields ("?page.size=5"), repeated fields by repetition ("?ids=1&ids=2"). A query
//      parameter naming an unknown field, a field bound by the path or the body, or a singular
//      field twice is an error; with body "*" no query parameter is accepted.
// Path and query values are converted by field type with strict parsing: integers are decimal
// (no '+', no spaces; range-checked, unsigned fields refuse negatives), floats are decimal or
// NaN/Infinity/-Infinity, bools true/false/1/0, enums by name or defined number, strings must be
// UTF-8, bytes base64 (standard or URL-safe).
//
// Field names: requests accept the proto name (snake_case, "after_position") or its JSON name
// (lowerCamelCase, "afterPosition"), in bodies and query parameters. Responses use the proto
// names (JsonPrintOptions::preserve_proto_field_names) and always print zero values
// (always_print_primitive_fields), following proto3 JSON otherwise: 64-bit integers are JSON
// strings, enums are names.
//
// Every error is InvalidArgument with a message naming the field and the problem.
// Pure functions over immutable descriptors; thread-safe.
#ifndef SEMISYNC_SERVER_GATEWAY_JSON_TRANSCODER_H_
#define SEMISYNC_SERVER_GATEWAY_JSON_TRANSCODER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "server/gateway/path_matcher.h"

namespace semisync {
namespace gateway {

// Decoded (name, value) pairs in order of appearance.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits a raw query string ("a=1&b=x%20y+z") on '&' and decodes names and values ('+' is a
// space). A parameter without '=' has an empty value. InvalidArgument on a bad %-escape or
// decoded bytes that are not UTF-8.
absl::Status ParseQueryString(absl::string_view query, QueryParams* out);

// Resolves a dotted field path (proto or JSON names) against `type`. Fails unless every element
// but the last is a singular message field and the last is a singular (for path variables) or
// possibly repeated (for query parameters) scalar, enum or well-known-type field.
absl::Status ResolveFieldPath(const google::protobuf::Descriptor* type,
                              const std::vector<std::string>& path, bool allow_repeated,
                              std::vector<const google::protobuf::FieldDescriptor*>* fields);

// Checks a `body` value of an HttpRule against the request type: "", "*" or a top-level field.
absl::Status CheckBodyField(const google::protobuf::Descriptor* type, const std::string& body);

// Builds `request` (empty, of the route's request type) from the body (already UTF-8 checked),
// the path variables and the query parameters, as described above. `body_field` is the rule's
// body: "", "*" or a top-level field name.
absl::Status TranscodeRequest(const std::string& body_field, absl::string_view body,
                              const std::vector<VariableBinding>& path_vars,
                              const QueryParams& query, google::protobuf::Message* request);

// The response as proto3 JSON (see the field-name policy above). With a response_body field,
// only that field's value is printed.
absl::Status ResponseToJson(const google::protobuf::Message& response,
                            const std::string& response_body_field, std::string* json);

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_JSON_TRANSCODER_H_
