// PathMatcher: (HTTP method, request path) -> route and bound variables.
//
// Built once from (method, HttpTemplate, route id) triples and immutable afterwards, so Match() is
// safe to call from any number of threads without locking.
//
// Matching rules:
//   - the path is split on '/' before decoding, so "%2F" never creates a segment; literal
//     segments are compared with the percent-decoded request segment;
//   - a variable over one "*" segment gets the fully decoded segment; a variable over several
//     segments or "**" gets the segments joined by '/', with "%2F" left encoded;
//   - a route with a verb (":cancel") only matches when the last segment ends with ":<verb>";
//   - empty segments ("//", trailing '/') never match a template;
//   - when several routes match, the most specific wins: compared segment by segment, a literal
//     beats "*" which beats "**"; ties go to the route added first;
//   - no route matches the path: kNotFound (404); routes match the path but none for this
//     method: kMethodNotAllowed (405) with the sorted, distinct methods that would match;
//     a malformed %-escape: kBadPath (400).
#ifndef SEMISYNC_SERVER_GATEWAY_PATH_MATCHER_H_
#define SEMISYNC_SERVER_GATEWAY_PATH_MATCHER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/gateway/http_template.h"

namespace semisync {
namespace gateway {

// A path variable's value, for the (dotted) request field it binds.
struct VariableBinding {
  std::vector<std::string> field_path;
  std::string value;
};

struct PathMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath };
  Kind kind = Kind::kNotFound;
  int route = -1;                            // kFound: the id given to Builder::Add
  std::vector<VariableBinding> bindings;     // kFound
  std::vector<std::string> allowed_methods;  // kMethodNotAllowed
  std::string error;                         // kBadPath
};

class PathMatcher {
 public:
  class Builder {
   public:
    // Fails with AlreadyExists when the same method already has a structurally identical
    // template (same literals, wildcards and verb; variable names do not matter).
    absl::Status Add(const std::string& http_method, HttpTemplate tmpl, int route);
    PathMatcher Build() &&;

   private:
    friend class PathMatcher;
    struct Entry {
      std::string method;
      HttpTemplate tmpl;
      int route;
    };
    std::vector<Entry> entries_;
  };

  PathMatcher() = default;
  // `path` is the raw request path (no query string), starting with '/'.
  PathMatch Match(absl::string_view http_method, absl::string_view path) const;
  size_t size() const { return entries_.size(); }

 private:
  using Entry = Builder::Entry;
  explicit PathMatcher(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  std::vector<Entry> entries_;
};

}  // namespace gateway
}  // namespace semisync

#endif  // SEMISYNC_SERVER_GATEWAY_PATH_MATCHER_H_
