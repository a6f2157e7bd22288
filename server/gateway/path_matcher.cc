// PathMatcher (see path_matcher.h for the rules).
#include "server/gateway/path_matcher.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace semisync {
namespace gateway {
namespace {

using Kind = HttpTemplate::Segment::Kind;

bool SameShape(const HttpTemplate& a, const HttpTemplate& b) {
  if (a.verb() != b.verb() || a.segments().size() != b.segments().size()) return false;
  for (size_t i = 0; i < a.segments().size(); ++i) {
    const auto& x = a.segments()[i];
    const auto& y = b.segments()[i];
    if (x.kind != y.kind || x.literal != y.literal) return false;
  }
  return true;
}

int Rank(Kind k) {
  switch (k) {
    case Kind::kLiteral:
      return 3;
    case Kind::kWildcard:
      return 2;
    case Kind::kMultiWildcard:
      return 1;
  }
  return 0;
}

// The request path, split and decoded once per Match().
struct RequestPath {
  std::vector<absl::string_view> raw;
  std::vector<std::string> decoded;
};

// Tries one template; on success fills the score (higher is more specific) and bindings.
bool TryMatch(const HttpTemplate& t, const RequestPath& path, std::vector<int>* score,
              std::vector<VariableBinding>* bindings) {
  std::vector<absl::string_view> raw = path.raw;
  std::string last_decoded;
  const std::string* last = raw.empty() ? nullptr : &path.decoded.back();
  if (!t.verb().empty()) {
    if (raw.empty()) return false;
    std::string suffix = absl::StrCat(":", t.verb());
    if (!absl::EndsWith(raw.back(), suffix)) return false;
    raw.back().remove_suffix(suffix.size());
    if (raw.back().empty()) return false;
    if (!PercentDecode(raw.back(), false, &last_decoded)) return false;
    last = &last_decoded;
  }
  auto decoded = [&](size_t i) -> const std::string& {
    return i + 1 == raw.size() ? *last : path.decoded[i];
  };
  const auto& segs = t.segments();
  const bool multi = t.ends_with_multi_wildcard();
  const size_t fixed = multi ? segs.size() - 1 : segs.size();
  if (multi ? raw.size() < fixed : raw.size() != fixed) return false;
  score->clear();
  for (size_t i = 0; i < fixed; ++i) {
    if (segs[i].kind == Kind::kLiteral && decoded(i) != segs[i].literal) return false;
    score->push_back(Rank(segs[i].kind));
  }
  // One rank per request segment, so that scores of matching templates have equal lengths.
  for (size_t i = fixed; i < raw.size(); ++i) score->push_back(Rank(Kind::kMultiWildcard));
  score->push_back(multi ? 0 : 1);
  score->push_back(t.verb().empty() ? 0 : 1);

  bindings->clear();
  for (const auto& v : t.variables()) {
    VariableBinding b;
    b.field_path = v.field_path;
    const bool to_end = multi && v.end == static_cast<int>(segs.size());
    const size_t end = to_end ? raw.size() : static_cast<size_t>(v.end);
    if (!to_end && end - v.begin == 1) {
      b.value = decoded(v.begin);
    } else {
      std::string part;
      for (size_t i = v.begin; i < end; ++i) {
        if (!PercentDecode(raw[i], /*keep_escaped_slash=*/true, &part)) return false;
        if (i > static_cast<size_t>(v.begin)) b.value += '/';
        b.value += part;
      }
    }
    bindings->push_back(std::move(b));
  }
  return true;
}

}  // namespace

absl::Status PathMatcher::Builder::Add(const std::string& http_method, HttpTemplate tmpl,
                                       int route) {
  for (const Entry& e : entries_) {
    if (e.method == http_method && SameShape(e.tmpl, tmpl)) {
      return absl::AlreadyExistsError(absl::StrCat("HTTP route ", http_method, " ", tmpl.ToString(),
                                                   " conflicts with ", e.method, " ",
                                                   e.tmpl.ToString()));
    }
  }
  entries_.push_back(Entry{http_method, std::move(tmpl), route});
  return absl::OkStatus();
}

PathMatcher PathMatcher::Builder::Build() && { return PathMatcher(std::move(entries_)); }

PathMatch PathMatcher::Match(absl::string_view http_method, absl::string_view path) const {
  PathMatch result;
  if (path.empty() || path[0] != '/') return result;  // kNotFound
  RequestPath req;
  req.raw = absl::StrSplit(path.substr(1), '/');
  req.decoded.resize(req.raw.size());
  for (size_t i = 0; i < req.raw.size(); ++i) {
    if (req.raw[i].empty()) return result;  // empty segments never match
    if (!PercentDecode(req.raw[i], false, &req.decoded[i])) {
      result.kind = PathMatch::Kind::kBadPath;
      result.error = absl::StrCat("malformed %-escape in path segment \"", req.raw[i], "\"");
      return result;
    }
  }

  std::set<std::string> methods;
  std::vector<int> score;
  std::vector<int> best_score;
  std::vector<VariableBinding> bindings;
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    if (!TryMatch(e.tmpl, req, &score, &bindings)) continue;
    methods.insert(e.method);
    if (e.method != http_method) continue;
    if (best == nullptr || score > best_score) {
      best = &e;
      best_score = score;
      result.bindings = bindings;
    }
  }
  if (best != nullptr) {
    result.kind = PathMatch::Kind::kFound;
    result.route = best->route;
    return result;
  }
  result.bindings.clear();
  if (!methods.empty()) {
    result.kind = PathMatch::Kind::kMethodNotAllowed;
    result.allowed_methods.assign(methods.begin(), methods.end());
  }
  return result;
}

}  // namespace gateway
}  // namespace semisync
