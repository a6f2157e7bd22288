// Prometheus text exposition format 0.0.4 (see text_format.h).
#include "server/metrics/text_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace semisync {
namespace metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

void AppendEscaped(absl::string_view text, bool quote_too, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        if (quote_too) {
          out->append("\\\"");
        } else {
          out->push_back(c);
        }
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

absl::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      break;
  }
  return "untyped";
}

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || (!IsNameStart(name[0]) && name[0] != ':')) return false;
  for (char c : name) {
    if (!IsNameChar(c) && c != ':') return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;  // reserved
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (value == std::floor(value) && std::fabs(value) < kExactIntegers) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest of %.15g .. %.17g that reads back as the same double ("0.1", not
  // "0.10000000000000001").
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

void RenderFamily(const MetricFamily& family, std::string* out) {
  absl::StrAppend(out, "# HELP ", family.name, " ");
  AppendEscaped(family.help, /*quote_too=*/false, out);
  absl::StrAppend(out, "\n# TYPE ", family.name, " ", MetricTypeName(family.type), "\n");
  for (const Sample& s : family.samples) {
    absl::StrAppend(out, family.name, s.suffix);
    if (!s.labels.empty()) {
      out->push_back('{');
      bool first = true;
      for (const auto& [name, value] : s.labels) {
        if (!first) out->push_back(',');
        first = false;
        absl::StrAppend(out, name, "=\"");
        AppendEscaped(value, /*quote_too=*/true, out);
        out->push_back('"');
      }
      out->push_back('}');
    }
    absl::StrAppend(out, " ", FormatValue(s.value), "\n");
  }
}

std::string RenderText(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const MetricFamily& f : families) RenderFamily(f, &out);
  return out;
}

}  // namespace metrics
}  // namespace semisync
