// Output helpers for semisyncctl (see cli_output.h).
#include "client/cli_output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace semisync {
namespace cli {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    // Only possible for messages with Any fields whose types are unknown; ours have none.
    return absl::StrCat("{\"error\":\"cannot print ", message.GetTypeName(), " as JSON\"}");
  }
  return out;
}

std::string FormatTimeUs(int64_t unix_micros) {
  if (unix_micros == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes, not continuation bytes
  }
  return width;
}

std::string CellText(const std::string& s, size_t max_width) {
  std::string out;
  // After each piece: its end offset in `out` and the display width so far, for cutting.
  std::vector<std::pair<size_t, size_t>> ends;
  size_t width = 0;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    std::string piece;
    size_t len = 1;
    if (c == '\n') {
      piece = "\\n";
    } else if (c == '\t') {
      piece = "\\t";
    } else if (c == '\r') {
      piece = "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      piece = absl::StrFormat("\\x%02x", c);
    } else {
      while (c >= 0x80 && i + len < s.size() &&
             (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) {
        ++len;
      }
      piece = s.substr(i, len);
    }
    const size_t piece_width = c >= 0x80 ? 1 : piece.size();
    if (max_width > 0 && width + piece_width > max_width) {
      // Cut at the last piece that leaves room for "...".
      size_t keep = 0;
      for (const auto& [offset, w] : ends) {
        if (w + 3 <= max_width) keep = offset;
      }
      out.resize(keep);
      return out + "...";
    }
    out += piece;
    width += piece_width;
    ends.emplace_back(out.size(), width);
    i += len;
  }
  return out;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<size_t>& right_aligned) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      const std::string pad(widths[i] - DisplayWidth(cell), ' ');
      const bool last = i + 1 == widths.size();
      if (std::find(right_aligned.begin(), right_aligned.end(), i) != right_aligned.end()) {
        out += pad + cell;
      } else {
        out += last ? cell : cell + pad;
      }
      if (!last) out += "  ";
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string FormatKeyValues(const KeyValues& kv) {
  size_t width = 0;
  for (const auto& [k, v] : kv) width = std::max(width, k.size());
  std::string out;
  for (const auto& [k, v] : kv) {
    absl::StrAppend(&out, k, std::string(width - k.size() + 2, ' '), v, "\n");
  }
  return out;
}

bool IsTimestampField(const std::string& name) {
  static const char* const kNames[] = {"created_at_us", "updated_at_us", "timestamp_us",
                                       "last_ack_time_us", "applied_timestamp_us"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

std::string FormatProgress(int64_t done, int64_t errors, double elapsed_s, int64_t count,
                           double duration_s) {
  constexpr int kBarWidth = 30;
  double fraction = count > 0 ? static_cast<double>(done) / static_cast<double>(count)
                              : (duration_s > 0 ? elapsed_s / duration_s : 0);
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string out = absl::StrCat("[", std::string(filled, '#'),
                                 std::string(kBarWidth - filled, '.'), "] ");
  absl::StrAppendFormat(&out, "%3d%%  ", static_cast<int>(fraction * 100));
  if (count > 0) {
    absl::StrAppendFormat(&out, "%d/%d ops", done, count);
  } else {
    absl::StrAppendFormat(&out, "%.1f/%.1f s  %d ops", elapsed_s, duration_s, done);
  }
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
  absl::StrAppendFormat(&out, "  %.0f ops/s  %d errors", rate, errors);
  return out;
}

namespace {

std::string ScalarText(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return absl::StrCat(r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = r->GetInt64(m, f);
      return IsTimestampField(f->name()) ? FormatTimeUs(v) : absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_UINT32: return absl::StrCat(r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64: return absl::StrCat(r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: return absl::StrFormat("%.3f", r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT: return absl::StrFormat("%.3f", r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(m, f) ? "yes" : "no";
    case FieldDescriptor::CPPTYPE_ENUM: return r->GetEnum(m, f)->name();
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string v = r->GetString(m, f);
      return v.empty() ? "-" : CellText(v);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: break;
  }
  return "?";
}

void Flatten(const Message& m, const std::string& prefix, const std::vector<std::string>& skip,
             KeyValues* out) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string key = prefix + f->name();
    if (f->is_repeated()) {
      if (std::find(skip.begin(), skip.end(), f->name()) == skip.end()) {
        out->emplace_back(key, absl::StrCat(r->FieldSize(m, f), " entries"));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      Flatten(r->GetMessage(m, f), key + ".", skip, out);
    } else {
      out->emplace_back(key, ScalarText(m, f));
    }
  }
}

}  // namespace

KeyValues MessageKeyValues(const Message& message, const std::vector<std::string>& skip) {
  KeyValues out;
  Flatten(message, "", skip, &out);
  return out;
}

}  // namespace cli
}  // namespace semisync
