// HttpTemplate: a parsed `google.api.http` path template, as defined in google/api/http.proto:
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// "*" matches one path segment, "**" zero or more (only as the last segment). `{id}` is short for
// `{id=*}`. Literals may contain RFC 3986 unreserved and sub-delim characters, '@' and %XX escapes
// (decoded at parse time); ':' only introduces the verb. Parse errors name the template, the offset
// and the problem, e.g. `invalid HTTP template "/a/{id": unterminated variable at offset 3`.
//
// Immutable value type; thread-compatible.
#ifndef SEMISYNC_SERVER_GATEWAY_HTTP_TEMPLATE_H_
#define SEMISYNC_SERVER_GATEWAY_HTTP_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace semisync {
namespace gateway {

class HttpTemplate {
 public:
  struct Segment {
    enum class Kind { kLiteral, kWildcard, kMultiWildcard };  // "lit", "*", "**"
    Kind kind = Kind::kLiteral;
    std::string literal;  // decoded; only for kLiteral
  };
  // A variable binds segments [begin, end) of the template to a (dotted) request field. When the
  // range ends with the "**" segment, the variable takes all remaining request path segments.
  struct Variable {
    std::vector<std::string> field_path;
    int begin = 0;
    int end = 0;
  };

  static absl::StatusOr<HttpTemplate> Parse(absl::string_view text);

  const std::vector<Segment>& segments() const { return segments_; }
  const std::vector<Variable>& variables() const { return variables_; }
  const std::string& verb() const { return verb_; }
  // True when the last segment is "**".
  bool ends_with_multi_wildcard() const {
    return !segments_.empty() && segments_.back().kind == Segment::Kind::kMultiWildcard;
  }
  // The template as written in canonical form ("/v1/{name=shelves/*}/books:get").
  std::string ToString() const;

 private:
  HttpTemplate() = default;
  friend class TemplateParser;

  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// Decodes %XX escapes. Fails (nullopt-like: returns false) on a malformed escape. When
// keep_escaped_slash is set, "%2F"/"%2f" stay encoded (used for multi-segment variables, so that
// the value keeps its segment boundaries).
bool PercentDecode(absl::string_view in, bool keep_escaped_slash, std::string* out);

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_HTTP_TEMPLATE_H_
