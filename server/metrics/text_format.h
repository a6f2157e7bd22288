// Prometheus text exposition format, version 0.0.4: the snapshot model every metric source
// produces at scrape time (MetricFamily / Sample) and the renderer that prints it.
//
//   # HELP rpl_semi_sync_master_yes_tx_total Transactions acknowledged by a slave.
//   # TYPE rpl_semi_sync_master_yes_tx_total counter
//   rpl_semi_sync_master_yes_tx_total 42
//
// Families are printed in the order given, each with one HELP and one TYPE line; label values and
// HELP text are escaped as the format requires (\\, \", \n in label values; \\ and \n in HELP).
// Values print as integers when they are whole numbers below 2^53, otherwise in the shortest form
// that reads back exactly; infinities as +Inf / -Inf, NaN as NaN.
//
// Pure functions on values: thread-safe.
#ifndef SEMISYNC_SERVER_METRICS_TEXT_FORMAT_H_
#define SEMISYNC_SERVER_METRICS_TEXT_FORMAT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace semisync {
namespace metrics {

// The content type of the rendered text (for the HTTP response).
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

// "counter", "gauge", "histogram", "untyped".
absl::string_view MetricTypeName(MetricType type);

// Label name/value pairs, printed in this order.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  // Appended to the family name: "" for counters and gauges; "_bucket", "_sum", "_count" for
  // histograms (a "_bucket" sample carries an "le" label).
  std::string suffix;
  Labels labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;  // [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in "_total"
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<Sample> samples;
};

// Whether `name` is a valid metric name / label name ([a-zA-Z_][a-zA-Z0-9_]*, not "__" prefixed).
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);

// A value as the format prints it ("42", "0.25", "+Inf", "NaN").
std::string FormatValue(double value);

// Appends one family (HELP, TYPE and its samples) to `out`. A family without samples prints only
// its HELP and TYPE lines.
void RenderFamily(const MetricFamily& family, std::string* out);
std::string RenderText(const std::vector<MetricFamily>& families);

}  // namespace metrics
}  // namespace semisync

#endif  // SEMISYNC_SERVER_METRICS_TEXT_FORMAT_H_
