// The metrics registry (see metrics.h).
#include "server/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "glog/logging.h"

namespace semisync {
namespace metrics {

void Gauge::Add(double delta) {
  double old = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(old, old + delta, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    CHECK(std::isfinite(bounds_[i])) << "histogram bucket bounds must be finite";
    CHECK(i == 0 || bounds_[i - 1] < bounds_[i]) << "histogram bucket bounds must increase";
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // Buckets are "less than or equal": the first bound >= value.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double>* const kBuckets =
      new std::vector<double>{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                              0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *kBuckets;
}

void AppendSamples(const Counter& c, const Labels& labels, MetricFamily* family) {
  family->samples.push_back({"", labels, static_cast<double>(c.Value())});
}

void AppendSamples(const Gauge& g, const Labels& labels, MetricFamily* family) {
  family->samples.push_back({"", labels, g.Value()});
}

void AppendSamples(const Histogram& h, const Labels& labels, MetricFamily* family) {
  const Histogram::Snapshot s = h.Read();
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    Labels with_le = labels;
    with_le.emplace_back("le", i < s.upper_bounds.size() ? FormatValue(s.upper_bounds[i]) : "+Inf");
    family->samples.push_back(
        {"_bucket", std::move(with_le), static_cast<double>(s.cumulative[i])});
  }
  family->samples.push_back({"_sum", labels, s.sum});
  family->samples.push_back({"_count", labels, static_cast<double>(s.count)});
}

namespace internal {

void CheckLabelCount(const std::string& family, size_t names, size_t values) {
  CHECK_EQ(names, values) << "metric " << family << ": wrong number of label values";
}

Labels Zip(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Labels labels;
  labels.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) labels.emplace_back(names[i], values[i]);
  return labels;
}

}  // namespace internal

void Registry::CheckNewName(const std::string& name, const std::vector<std::string>& label_names) {
  CHECK(IsValidMetricName(name)) << "invalid metric name \"" << name << "\"";
  CHECK(names_.insert(name).second) << "metric " << name << " registered twice";
  for (const std::string& l : label_names) {
    CHECK(IsValidLabelName(l) && l != "le") << "metric " << name << ": invalid label " << l;
  }
}

Family<Counter>* Registry::AddCounterFamily(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names) {
  CHECK(absl::EndsWith(name, "_total")) << "counter " << name << " must end in _total";
  absl::MutexLock lock(&mu_);
  CheckNewName(name, label_names);
  counters_.push_back(
      std::make_unique<Family<Counter>>(name, help, MetricType::kCounter, std::move(label_names),
                                        [] { return std::make_unique<Counter>(); }));
  Family<Counter>* f = counters_.back().get();
  sources_.push_back([f](std::vector<MetricFamily>* out) { f->Collect(out); });
  return f;
}

Family<Gauge>* Registry::AddGaugeFamily(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  CheckNewName(name, label_names);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, MetricType::kGauge,
                                                    std::move(label_names),
                                                    [] { return std::make_unique<Gauge>(); }));
  Family<Gauge>* f = gauges_.back().get();
  sources_.push_back([f](std::vector<MetricFamily>* out) { f->Collect(out); });
  return f;
}

Family<Histogram>* Registry::AddHistogramFamily(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> upper_bounds) {
  absl::MutexLock lock(&mu_);
  CheckNewName(name, label_names);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, MetricType::kHistogram, std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); }));
  Family<Histogram>* f = histograms_.back().get();
  sources_.push_back([f](std::vector<MetricFamily>* out) { f->Collect(out); });
  return f;
}

Counter* Registry::AddCounter(const std::string& name, const std::string& help) {
  return AddCounterFamily(name, help, {})->WithLabels({});
}

Gauge* Registry::AddGauge(const std::string& name, const std::string& help) {
  return AddGaugeFamily(name, help, {})->WithLabels({});
}

Histogram* Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> upper_bounds) {
  return AddHistogramFamily(name, help, {}, std::move(upper_bounds))->WithLabels({});
}

void Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  sources_.push_back(std::move(collector));
}

std::vector<MetricFamily> Registry::Collect() const {
  std::vector<MetricFamily> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const Collector& source : sources_) source(&out);
  return out;
}

std::string Registry::RenderText() const { return metrics::RenderText(Collect()); }

}  // namespace metrics
}  // namespace semisync
