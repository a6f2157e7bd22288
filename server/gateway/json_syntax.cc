// Strict JSON syntax check (see json_syntax.h).
#include "server/gateway/json_syntax.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace semisync {
namespace gateway {
namespace {

class Checker {
 public:
  Checker(absl::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  absl::Status Run() {
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("expected a value (the body is empty)");
    if (absl::Status st = Value(0); !st.ok()) return st;
    SkipSpace();
    if (pos_ < s_.size()) return Fail("unexpected data after the JSON value");
    return absl::OkStatus();
  }

 private:
  absl::Status Fail(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON at offset ", pos_, ": ", what));
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  absl::Status Value(int depth) {
    if (pos_ >= s_.size()) return Fail("expected a value");
    switch (s_[pos_]) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        if (s_[pos_] == '-' || absl::ascii_isdigit(static_cast<unsigned char>(s_[pos_]))) {
          return Number();
        }
        return Fail("expected a value");
    }
  }

  absl::Status Literal(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return Fail("expected a value");
    pos_ += word.size();
    return absl::OkStatus();
  }

  absl::Status Digits() {
    if (pos_ >= s_.size() || !absl::ascii_isdigit(static_cast<unsigned char>(s_[pos_]))) {
      return Fail("expected a digit");
    }
    while (pos_ < s_.size() && absl::ascii_isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return absl::OkStatus();
  }

  absl::Status Number() {
    if (Peek('-')) ++pos_;
    if (Peek('0')) {
      ++pos_;
      if (pos_ < s_.size() && absl::ascii_isdigit(static_cast<unsigned char>(s_[pos_]))) {
        return Fail("numbers must not have leading zeros");
      }
    } else if (absl::Status st = Digits(); !st.ok()) {
      return st;
    }
    if (Peek('.')) {
      ++pos_;
      if (absl::Status st = Digits(); !st.ok()) return st;
    }
    if (Peek('e') || Peek('E')) {
      ++pos_;
      if (Peek('+') || Peek('-')) ++pos_;
      if (absl::Status st = Digits(); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // Reads 4 hex digits after "\u".
  bool Hex4(unsigned* value) {
    if (pos_ + 4 > s_.size()) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return false;
      v = (v << 4) | static_cast<unsigned>(d);
    }
    pos_ += 4;
    *value = v;
    return true;
  }

  absl::Status String(std::string* raw = nullptr) {
    size_t start = ++pos_;  // opening quote
    while (true) {
      if (pos_ >= s_.size()) return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') break;
      if (c < 0x20) return Fail("control character in string (must be escaped)");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return Fail("unterminated string");
      char e = s_[pos_++];
      if (e == 'u') {
        unsigned v;
        if (!Hex4(&v)) return Fail("bad \\u escape (expected 4 hex digits)");
        if (v >= 0xDC00 && v <= 0xDFFF) return Fail("unpaired low surrogate in \\u escape");
        if (v >= 0xD800 && v <= 0xDBFF) {
          unsigned lo;
          if (s_.substr(pos_, 2) != "\\u") return Fail("unpaired high surrogate in \\u escape");
          pos_ += 2;
          if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) {
            return Fail("unpaired high surrogate in \\u escape");
          }
        }
      } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                 e != 'r' && e != 't') {
        --pos_;
        return Fail(absl::StrCat("bad escape '\\", std::string(1, e), "' in string"));
      }
    }
    if (raw != nullptr) raw->assign(s_.data() + start, pos_ - start);
    ++pos_;  // closing quote
    return absl::OkStatus();
  }

  absl::Status Object(int depth) {
    if (depth > max_depth_) return Fail("nested too deeply");
    ++pos_;  // '{'
    SkipSpace();
    if (Peek('}')) {
      ++pos_;
      return absl::OkStatus();
    }
    std::set<std::string> keys;
    while (true) {
      SkipSpace();
      if (!Peek('"')) return Fail("expected a string key");
      size_t key_pos = pos_;
      std::string key;
      if (absl::Status st = String(&key); !st.ok()) return st;
      if (!keys.insert(key).second) {
        pos_ = key_pos;
        return Fail(absl::StrCat("duplicate key \"", key, "\""));
      }
      SkipSpace();
      if (!Peek(':')) return Fail("expected ':' after a key");
      ++pos_;
      SkipSpace();
      if (absl::Status st = Value(depth); !st.ok()) return st;
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        SkipSpace();
        if (Peek('}')) return Fail("trailing comma in object");
        continue;
      }
      if (Peek('}')) {
        ++pos_;
        return absl::OkStatus();
      }
      return Fail("expected ',' or '}' in object");
    }
  }

  absl::Status Array(int depth) {
    if (depth > max_depth_) return Fail("nested too deeply");
    ++pos_;  // '['
    SkipSpace();
    if (Peek(']')) {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      SkipSpace();
      if (absl::Status st = Value(depth); !st.ok()) return st;
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        SkipSpace();
        if (Peek(']')) return Fail("trailing comma in array");
        continue;
      }
      if (Peek(']')) {
        ++pos_;
        return absl::OkStatus();
      }
      return Fail("expected ',' or ']' in array");
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
  const int max_depth_;
};

}  // namespace

absl::Status CheckJsonSyntax(absl::string_view json, int max_depth) {
  return Checker(json, max_depth).Run();
}

}  // namespace gateway
}  // namespace semisync
