// HttpTemplate parser (see http_template.h for the grammar).
#include "server/gateway/http_template.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace semisync {
namespace gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 pchar without ':' (which introduces the verb) and without '%' (escapes are handled
// separately).
bool IsLiteralChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  // clang-format off
  switch (c) {
    case '-': case '.': case '_': case '~':                          // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')':     // sub-delims
    case '+': case ',': case ';': case '=': case '@':
      return true;
    default:
      return false;
  }
  // clang-format on
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

bool PercentDecode(absl::string_view in, bool keep_escaped_slash, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    char c = static_cast<char>(hi * 16 + lo);
    if (keep_escaped_slash && c == '/') {
      out->append(in.data() + i, 3);
    } else {
      out->push_back(c);
    }
    i += 2;
  }
  return true;
}

// Recursive-descent parser over the template text; pos_ is the offset of the next character.
class TemplateParser {
 public:
  explicit TemplateParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<HttpTemplate> Parse() {
    if (text_.empty()) return Error("empty template");
    if (text_[0] != '/') return Error("must start with '/'");
    ++pos_;
    if (absl::Status s = ParseSegments(/*in_variable=*/false); !s.ok()) return s;
    if (pos_ < text_.size() && text_[pos_] == ':') {
      ++pos_;
      size_t start = pos_;
      std::string verb;
      if (absl::Status s = ParseLiteral(&verb); !s.ok()) return s;
      if (verb.empty()) return ErrorAt(start, "empty verb after ':'");
      t_.verb_ = std::move(verb);
    }
    if (pos_ < text_.size()) {
      return ErrorAt(pos_, absl::StrCat("unexpected '", std::string(1, text_[pos_]), "'"));
    }
    for (size_t i = 0; i < t_.segments_.size(); ++i) {
      if (t_.segments_[i].kind == HttpTemplate::Segment::Kind::kMultiWildcard &&
          i + 1 != t_.segments_.size()) {
        return Error("'**' must be the last segment");
      }
    }
    return std::move(t_);
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid HTTP template \"", text_, "\": ", what));
  }
  absl::Status ErrorAt(size_t offset, absl::string_view what) const {
    return Error(absl::StrCat(what, " at offset ", offset));
  }

  // Segments up to (not including) '}' inside a variable, or ':' / end at top level.
  absl::Status ParseSegments(bool in_variable) {
    while (true) {
      if (absl::Status s = ParseSegment(in_variable); !s.ok()) return s;
      if (pos_ < text_.size() && text_[pos_] == '/') {
        ++pos_;
        continue;
      }
      return absl::OkStatus();
    }
  }

  absl::Status ParseSegment(bool in_variable) {
    if (pos_ >= text_.size() || text_[pos_] == '/' || text_[pos_] == ':' || text_[pos_] == '}') {
      return ErrorAt(pos_, "empty path segment");
    }
    HttpTemplate::Segment seg;
    if (text_[pos_] == '*') {
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        seg.kind = HttpTemplate::Segment::Kind::kMultiWildcard;
        pos_ += 2;
      } else {
        seg.kind = HttpTemplate::Segment::Kind::kWildcard;
        pos_ += 1;
      }
      if (pos_ < text_.size() && text_[pos_] != '/' && text_[pos_] != ':' && text_[pos_] != '}') {
        return ErrorAt(pos_, "'*' must be a whole segment");
      }
      t_.segments_.push_back(std::move(seg));
      return absl::OkStatus();
    }
    if (text_[pos_] == '{') {
      if (in_variable) return ErrorAt(pos_, "nested variable");
      return ParseVariable();
    }
    if (absl::Status s = ParseLiteral(&seg.literal); !s.ok()) return s;
    t_.segments_.push_back(std::move(seg));
    return absl::OkStatus();
  }

  absl::Status ParseLiteral(std::string* out) {
    size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '%') {
        if (pos_ + 2 >= text_.size() || HexValue(text_[pos_ + 1]) < 0 ||
            HexValue(text_[pos_ + 2]) < 0) {
          return ErrorAt(pos_, "malformed %-escape");
        }
        pos_ += 3;
      } else if (IsLiteralChar(c)) {
        ++pos_;
      } else if (c == '/' || c == ':' || c == '}' || c == '{') {
        break;
      } else if (c == '*') {
        return ErrorAt(pos_, "'*' must be a whole segment");
      } else {
        return ErrorAt(
            pos_, absl::StrCat("character '", std::string(1, c), "' is not allowed in a literal"));
      }
    }
    if (!PercentDecode(text_.substr(start, pos_ - start), false, out)) {
      return ErrorAt(start, "malformed %-escape");
    }
    return absl::OkStatus();
  }

  absl::Status ParseVariable() {
    size_t open = pos_;
    ++pos_;  // '{'
    HttpTemplate::Variable var;
    while (true) {
      size_t start = pos_;
      if (pos_ >= text_.size() || !IsIdentStart(text_[pos_])) {
        if (pos_ >= text_.size()) return ErrorAt(open, "unterminated variable");
        return ErrorAt(pos_, "expected a field name");
      }
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      var.field_path.emplace_back(text_.substr(start, pos_ - start));
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        continue;
      }
      break;
    }
    std::string name = absl::StrJoin(var.field_path, ".");
    if (!names_.insert(name).second)
      return ErrorAt(open, absl::StrCat("duplicate variable '", name, "'"));
    var.begin = static_cast<int>(t_.segments_.size());
    if (pos_ < text_.size() && text_[pos_] == '=') {
      ++pos_;
      if (absl::Status s = ParseSegments(/*in_variable=*/true); !s.ok()) return s;
    } else {
      HttpTemplate::Segment star;
      star.kind = HttpTemplate::Segment::Kind::kWildcard;
      t_.segments_.push_back(std::move(star));
    }
    if (pos_ >= text_.size()) return ErrorAt(open, "unterminated variable");
    if (text_[pos_] != '}') return ErrorAt(pos_, "expected '}'");
    ++pos_;
    var.end = static_cast<int>(t_.segments_.size());
    t_.variables_.push_back(std::move(var));
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
  HttpTemplate t_;
  std::set<std::string> names_;
};

absl::StatusOr<HttpTemplate> HttpTemplate::Parse(absl::string_view text) {
  return TemplateParser(text).Parse();
}

std::string HttpTemplate::ToString() const {
  std::string out;
  size_t v = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    out += '/';
    if (v < variables_.size() && variables_[v].begin == static_cast<int>(i)) {
      absl::StrAppend(&out, "{", absl::StrJoin(variables_[v].field_path, "."), "=");
    }
    const Segment& s = segments_[i];
    switch (s.kind) {
      case Segment::Kind::kLiteral:
        out += s.literal;
        break;
      case Segment::Kind::kWildcard:
        out += '*';
        break;
      case Segment::Kind::kMultiWildcard:
        out += "**";
        break;
    }
    if (v < variables_.size() && variables_[v].end == static_cast<int>(i) + 1) {
      out += '}';
      ++v;
    }
  }
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

}  // namespace gateway
}  // namespace semisync
