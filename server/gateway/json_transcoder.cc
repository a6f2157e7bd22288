// JSON <-> protobuf transcoding (see json_transcoder.h).
#include "server/gateway/json_transcoder.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/gateway/http_template.h"
#include "server/gateway/json_syntax.h"
#include "server/gateway/status_mapping.h"
#include "server/gateway/utf8.h"

namespace semisync {
namespace gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* FindField(const Descriptor* type, const std::string& name) {
  const FieldDescriptor* f = type->FindFieldByName(name);
  if (f != nullptr) return f;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == name) return type->field(i);
  }
  return nullptr;
}

// Message types that have a scalar JSON form and may therefore be bound from a path or query.
bool IsScalarWellKnownType(const Descriptor* d) {
  static const auto* kTypes = new std::set<std::string>{
      "google.protobuf.Timestamp",   "google.protobuf.Duration",    "google.protobuf.FieldMask",
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  return kTypes->count(d->full_name()) > 0;
}

std::string TypeName(const FieldDescriptor* f) {
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) return f->enum_type()->full_name();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return f->message_type()->full_name();
  return f->type_name();
}

absl::Status Bad(absl::string_view where, const std::string& field, absl::string_view value,
                 const FieldDescriptor* f, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("invalid value ", JsonQuote(value),
                                                 " for field \"", field, "\" (", TypeName(f),
                                                 ") in ", where, ": ", problem));
}

// Strict decimal integer: optional '-', then digits.
bool IsDecimalInteger(absl::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsDecimalNumber(absl::string_view s) {
  if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
  bool digit = false;
  for (char c : s) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E') {
      return false;
    }
  }
  return digit;
}

// Converts `text` and sets (or, for repeated fields, adds) it to field f of msg.
absl::Status SetFromString(Message* msg, const FieldDescriptor* f, absl::string_view text,
                           const std::string& name, absl::string_view where) {
  const Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      if (!IsDecimalInteger(text)) return Bad(where, name, text, f, "not a decimal integer");
      int64_t v;
      const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
      if (!absl::SimpleAtoi(text, &v) || (is32 && (v < std::numeric_limits<int32_t>::min() ||
                                                   v > std::numeric_limits<int32_t>::max()))) {
        return Bad(where, name, text, f, "out of range");
      }
      if (is32) {
        rep ? r->AddInt32(msg, f, static_cast<int32_t>(v))
            : r->SetInt32(msg, f, static_cast<int32_t>(v));
      } else {
        rep ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      if (!IsDecimalInteger(text)) return Bad(where, name, text, f, "not a decimal integer");
      if (text[0] == '-') return Bad(where, name, text, f, "must not be negative");
      uint64_t v;
      const bool is32 = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32;
      if (!absl::SimpleAtoi(text, &v) || (is32 && v > std::numeric_limits<uint32_t>::max())) {
        return Bad(where, name, text, f, "out of range");
      }
      if (is32) {
        rep ? r->AddUInt32(msg, f, static_cast<uint32_t>(v))
            : r->SetUInt32(msg, f, static_cast<uint32_t>(v));
      } else {
        rep ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (text == "NaN") {
        v = std::numeric_limits<double>::quiet_NaN();
      } else if (text == "Infinity" || text == "-Infinity") {
        v = text[0] == '-' ? -HUGE_VAL : HUGE_VAL;
      } else if (!IsDecimalNumber(text) || !absl::SimpleAtod(text, &v) || std::isinf(v)) {
        return Bad(where, name, text, f, "not a finite decimal number (or NaN, Infinity)");
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
          return Bad(where, name, text, f, "out of range");
        }
        rep ? r->AddFloat(msg, f, static_cast<float>(v))
            : r->SetFloat(msg, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (absl::EqualsIgnoreCase(text, "true") || text == "1") {
        v = true;
      } else if (absl::EqualsIgnoreCase(text, "false") || text == "0") {
        v = false;
      } else {
        return Bad(where, name, text, f, "expected true or false");
      }
      rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* e =
          f->enum_type()->FindValueByName(std::string(text));
      int number;
      if (e == nullptr && IsDecimalInteger(text) && absl::SimpleAtoi(text, &number)) {
        e = f->enum_type()->FindValueByNumber(number);
      }
      if (e == nullptr) return Bad(where, name, text, f, "not a value of the enum");
      rep ? r->AddEnum(msg, f, e) : r->SetEnum(msg, f, e);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v;
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        if (!absl::Base64Unescape(text, &v) && !absl::WebSafeBase64Unescape(text, &v)) {
          return Bad(where, name, text, f, "not base64");
        }
      } else {
        if (!IsValidUtf8(text)) return Bad(where, name, text, f, "not valid UTF-8");
        v = std::string(text);
      }
      rep ? r->AddString(msg, f, std::move(v)) : r->SetString(msg, f, std::move(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // A well-known type with a scalar JSON form: parse {"<field>": "<text>"} into a scratch
      // message of the parent type and move the field over.
      std::unique_ptr<Message> scratch(msg->New());
      std::string json = absl::StrCat("{", JsonQuote(f->name()), ":", JsonQuote(text), "}");
      auto s = google::protobuf::util::JsonStringToMessage(json, scratch.get());
      if (!s.ok()) return Bad(where, name, text, f, "not in the type's JSON string form");
      const Message& value =
          rep ? r->GetRepeatedMessage(*scratch, f, 0) : r->GetMessage(*scratch, f);
      (rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f))->CopyFrom(value);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unhandled field type");
}

// Whether singular field f holds the same value in a and b.
bool SameValue(const Message& a, const Message& b, const FieldDescriptor* f) {
  const Reflection* r = a.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(a, f) == r->GetInt32(b, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(a, f) == r->GetInt64(b, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(a, f) == r->GetUInt32(b, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(a, f) == r->GetUInt64(b, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(a, f) == r->GetDouble(b, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(a, f) == r->GetFloat(b, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(a, f) == r->GetBool(b, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(a, f) == r->GetEnumValue(b, f);
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(a, f) == r->GetString(b, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return r->GetMessage(a, f).SerializeAsString() == r->GetMessage(b, f).SerializeAsString();
  }
  return false;
}

// Rewrites protobuf's JSON parser errors (first line only) into messages that name the field.
std::string DescribeJsonError(absl::string_view error) {
  absl::string_view line = error.substr(0, error.find('\n'));
  absl::string_view rest;
  if (absl::EndsWith(line, ": Cannot find field.")) {
    return absl::StrCat("unknown field \"", line.substr(0, line.size() - 20), "\"");
  }
  if (absl::EndsWith(line, ": Proto field is not repeating, cannot start list.")) {
    return absl::StrCat("field \"", line.substr(0, line.find(':')), "\" is not a list");
  }
  if (size_t p = line.find("invalid value Starting an object on a scalar field for type ");
      p != absl::string_view::npos) {
    return absl::StrCat("field \"", line.substr(p + 60), "\" is not an object");
  }
  // "(received_position): invalid value -1 for type TYPE_UINT64"
  if (absl::StartsWith(line, "(") && line.find("): invalid value ") != absl::string_view::npos) {
    size_t close = line.find("): invalid value ");
    absl::string_view field = line.substr(1, close - 1);
    rest = line.substr(close + 17);
    size_t ft = rest.rfind(" for type TYPE_");
    if (ft != absl::string_view::npos) {
      return absl::StrCat("invalid value ", rest.substr(0, ft), " for field \"", field, "\" (",
                          absl::AsciiStrToLower(rest.substr(ft + 15)), ")");
    }
  }
  return std::string(line);
}

// protobuf's JSON parser also takes "true", "yes", "1", ... (strings) for bool fields; proto3 JSON
// allows only the literals true and false, so check them (recursively) before parsing.
absl::Status CheckBoolLiterals(const google::protobuf::Struct& object, const Descriptor* type,
                               const std::string& path) {
  for (const auto& [key, value] : object.fields()) {
    const FieldDescriptor* f = type->FindFieldByName(key);
    if (f == nullptr) f = type->FindFieldByLowercaseName(key);
    if (f == nullptr) {
      for (int i = 0; i < type->field_count() && f == nullptr; ++i) {
        if (type->field(i)->json_name() == key) f = type->field(i);
      }
    }
    if (f == nullptr) continue;  // the parser reports unknown fields
    const std::string where = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    std::vector<const google::protobuf::Value*> items;
    if (f->is_repeated() && value.has_list_value()) {
      for (const auto& v : value.list_value().values()) items.push_back(&v);
    } else {
      items.push_back(&value);
    }
    for (const google::protobuf::Value* v : items) {
      if (v->has_null_value()) continue;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !v->has_bool_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value for field \"", where, "\": expected true or false"));
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map() &&
          v->has_struct_value() &&
          f->message_type()->file()->package() != "google.protobuf") {
        RETURN_IF_ERROR(CheckBoolLiterals(v->struct_value(), f->message_type(), where));
      }
    }
  }
  return absl::OkStatus();
}

// Whether CheckBoolLiterals can find anything in a `type` object: a bool field in it or, through
// the non-map message fields it recurses into, in a nested one.
bool CanHoldBoolFields(const Descriptor* type, std::set<const Descriptor*>* seen) {
  if (!seen->insert(type).second) return false;  // already looked at (recursive types)
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) return true;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map() &&
        f->message_type()->file()->package() != "google.protobuf" &&
        CanHoldBoolFields(f->message_type(), seen)) {
      return true;
    }
  }
  return false;
}

// CanHoldBoolFields per request type, computed once (the check costs a whole second JSON parse,
// a tenth of the gateway's CPU per request, and most request types have no bool field at all).
bool NeedsBoolLiteralCheck(const Descriptor* type) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* known = new std::map<const Descriptor*, bool>();
  absl::MutexLock l(&mu);
  auto it = known->find(type);
  if (it != known->end()) return it->second;
  std::set<const Descriptor*> seen;
  const bool needs = CanHoldBoolFields(type, &seen);
  known->emplace(type, needs);
  return needs;
}

absl::Status ParseJsonInto(absl::string_view json, Message* msg) {
  google::protobuf::Struct tree;
  if (NeedsBoolLiteralCheck(msg->GetDescriptor()) &&
      google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(json.data(), json.size()), &tree)
          .ok()) {
    RETURN_IF_ERROR(CheckBoolLiterals(tree, msg->GetDescriptor(), ""));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), msg, options);
  if (s.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid JSON body for ",
                                                 msg->GetDescriptor()->full_name(), ": ",
                                                 DescribeJsonError(s.message().as_string())));
}

bool IsJsonObject(absl::string_view json) {
  json = absl::StripLeadingAsciiWhitespace(json);
  return !json.empty() && json[0] == '{';
}

}  // namespace

absl::Status ParseQueryString(absl::string_view query, QueryParams* out) {
  out->clear();
  if (query.empty()) return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    absl::string_view raw_name = part.substr(0, eq);
    absl::string_view raw_value = eq == absl::string_view::npos ? "" : part.substr(eq + 1);
    std::string name, value;
    std::string n(raw_name), v(raw_value);
    std::replace(n.begin(), n.end(), '+', ' ');
    std::replace(v.begin(), v.end(), '+', ' ');
    if (!PercentDecode(n, false, &name) || !PercentDecode(v, false, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed %-escape in query parameter ", JsonQuote(part)));
    }
    if (!IsValidUtf8(name) || !IsValidUtf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", JsonQuote(part), " is not valid UTF-8"));
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", JsonQuote(part), " has no name"));
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ResolveFieldPath(const Descriptor* type, const std::vector<std::string>& path,
                              bool allow_repeated, std::vector<const FieldDescriptor*>* fields) {
  fields->clear();
  const std::string dotted = absl::StrJoin(path, ".");
  for (size_t i = 0; i < path.size(); ++i) {
    const FieldDescriptor* f = FindField(type, path[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no field \"", path[i], "\" in ", type->full_name()));
    }
    fields->push_back(f);
    const bool last = i + 1 == path.size();
    if (f->is_map() || (f->is_repeated() && !(last && allow_repeated))) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", dotted, "\" is a ",
                                                     f->is_map() ? "map" : "repeated field",
                                                     " and cannot be bound here"));
    }
    if (!last) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InvalidArgumentError(
            absl::StrCat("field \"", f->name(), "\" in \"", dotted, "\" is not a message"));
      }
      type = f->message_type();
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
               !IsScalarWellKnownType(f->message_type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("field \"", dotted, "\" is a message (", f->message_type()->full_name(),
                       "); only scalar, enum and well-known-type fields can be bound here"));
    }
  }
  if (fields->empty()) return absl::InvalidArgumentError("empty field path");
  return absl::OkStatus();
}

absl::Status CheckBodyField(const Descriptor* type, const std::string& body) {
  if (body.empty() || body == "*") return absl::OkStatus();
  const FieldDescriptor* f = type->FindFieldByName(body);
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("body \"", body, "\" is not a top-level field of ", type->full_name()));
  }
  return absl::OkStatus();
}

absl::Status TranscodeRequest(const std::string& body_field, absl::string_view body,
                              const std::vector<VariableBinding>& path_vars,
                              const QueryParams& query, Message* request) {
  const Descriptor* type = request->GetDescriptor();
  // 1. Body.
  if (!body.empty() && !body_field.empty()) {
    if (absl::Status s = CheckJsonSyntax(body); !s.ok()) return s;
    if (body_field == "*") {
      if (!IsJsonObject(body)) {
        return absl::InvalidArgumentError(
            absl::StrCat("the JSON body must be an object (", type->full_name(), ")"));
      }
      if (absl::Status s = ParseJsonInto(body, request); !s.ok()) return s;
    } else {
      const FieldDescriptor* f = type->FindFieldByName(body_field);
      if (f == nullptr) return absl::InternalError("body field vanished");
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
          !IsJsonObject(body) && !IsScalarWellKnownType(f->message_type())) {
        return absl::InvalidArgumentError(
            absl::StrCat("the JSON body must be an object (", f->message_type()->full_name(), ")"));
      }
      std::string wrapped = absl::StrCat("{", JsonQuote(f->name()), ":", body, "}");
      if (absl::Status s = ParseJsonInto(wrapped, request); !s.ok()) return s;
    }
  }

  // 2. Path variables.
  std::set<std::string> bound;  // canonical dotted paths bound by the URL path
  std::vector<const FieldDescriptor*> fields;
  for (const VariableBinding& var : path_vars) {
    if (absl::Status s = ResolveFieldPath(type, var.field_path, false, &fields); !s.ok()) {
      return absl::InternalError(s.message());  // checked at start-up
    }
    std::vector<std::string> names;
    Message* parent = request;
    for (size_t i = 0; i < fields.size(); ++i) {
      names.push_back(fields[i]->name());
      if (i + 1 < fields.size())
        parent = parent->GetReflection()->MutableMessage(parent, fields[i]);
    }
    const std::string name = absl::StrJoin(names, ".");
    bound.insert(name);
    const FieldDescriptor* leaf = fields.back();
    if (parent->GetReflection()->HasField(*parent, leaf)) {
      std::unique_ptr<Message> scratch(parent->New());
      if (absl::Status s = SetFromString(scratch.get(), leaf, var.value, name, "the URL path");
          !s.ok()) {
        return s;
      }
      if (!SameValue(*parent, *scratch, leaf)) {
        return absl::InvalidArgumentError(
            absl::StrCat("field \"", name, "\" is set by the URL path to ", JsonQuote(var.value),
                         " and by the body to another value"));
      }
    }
    if (absl::Status s = SetFromString(parent, leaf, var.value, name, "the URL path"); !s.ok()) {
      return s;
    }
  }

  // 3. Query parameters.
  std::set<std::string> seen;
  for (const auto& [key, value] : query) {
    const std::string where = absl::StrCat("query parameter \"", key, "\"");
    if (body_field == "*") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " is not accepted: this method takes all its fields from the JSON body"));
    }
    std::vector<std::string> path = absl::StrSplit(key, '.');
    if (absl::Status s = ResolveFieldPath(type, path, true, &fields); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown ", where, ": ", s.message()));
    }
    std::vector<std::string> names;
    for (const FieldDescriptor* f : fields) names.push_back(f->name());
    const std::string name = absl::StrJoin(names, ".");
    for (const std::string& b : bound) {
      if (b == name || absl::StartsWith(b, name + ".") || absl::StartsWith(name, b + ".")) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " is not accepted: field \"", b, "\" is bound by the URL path"));
      }
    }
    if (!body_field.empty() && names[0] == body_field) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " is not accepted: field \"", body_field, "\" is the request body"));
    }
    if (!fields.back()->is_repeated() && !seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is given more than once"));
    }
    Message* parent = request;
    for (size_t i = 0; i + 1 < fields.size(); ++i) {
      parent = parent->GetReflection()->MutableMessage(parent, fields[i]);
    }
    if (absl::Status s = SetFromString(parent, fields.back(), value, name, where); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ResponseToJson(const Message& response, const std::string& response_body_field,
                            std::string* json) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  json->clear();
  auto s = google::protobuf::util::MessageToJsonString(response, json, options);
  if (!s.ok()) return absl::InternalError(absl::StrCat("JSON encoding: ", s.message().as_string()));
  if (response_body_field.empty()) return absl::OkStatus();
  const Descriptor* type = response.GetDescriptor();
  const FieldDescriptor* f = type->FindFieldByName(response_body_field);
  if (f != nullptr && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map()) {
    // Message fields are printed directly, keeping the field order.
    const Reflection* r = response.GetReflection();
    json->clear();
    std::string one;
    const int n = f->is_repeated() ? r->FieldSize(response, f) : 1;
    for (int i = 0; i < n; ++i) {
      const Message& m =
          f->is_repeated() ? r->GetRepeatedMessage(response, f, i) : r->GetMessage(response, f);
      one.clear();
      s = google::protobuf::util::MessageToJsonString(m, &one, options);
      if (!s.ok()) return absl::InternalError(s.message().as_string());
      absl::StrAppend(json, i > 0 ? "," : "", one);
    }
    if (f->is_repeated()) *json = absl::StrCat("[", *json, "]");
    return absl::OkStatus();
  }
  // Scalars and maps: print the whole message, then pick the field out of its JSON form.
  google::protobuf::Struct whole;
  s = google::protobuf::util::JsonStringToMessage(*json, &whole);
  if (!s.ok()) return absl::InternalError(absl::StrCat("JSON re-parse: ", s.message().as_string()));
  auto it = whole.fields().find(response_body_field);
  if (it == whole.fields().end()) {
    *json = "null";
    return absl::OkStatus();
  }
  json->clear();
  s = google::protobuf::util::MessageToJsonString(it->second, json);
  if (!s.ok()) return absl::InternalError(absl::StrCat("JSON encoding: ", s.message().as_string()));
  return absl::OkStatus();
}

}  // namespace gateway
}  // namespace semisync
