// A small metrics registry of our own: counters, gauges and histograms with labels, plus
// scrape-time collectors, rendered in the Prometheus text format (text_format.h).
//
//   Registry registry;
//   Counter* writes = registry.AddCounter("semisync_writes_total", "Writes accepted.");
//   Family<Histogram>* latency = registry.AddHistogramFamily(
//       "semisync_write_seconds", "Write latency, seconds.", {"method"}, LatencyBuckets());
//   Histogram* h = latency->WithLabels({"CreateRecord"});   // look up once, keep the pointer
//   writes->Increment();  h->Observe(0.0021);                // hot path: relaxed atomics only
//   registry.AddCollector([](std::vector<MetricFamily>* out) { ...read live state... });
//   std::string text = registry.RenderText();                // on each scrape
//
// Hot path: Counter, Gauge and Histogram updates are lock-free (relaxed atomics; a histogram
// observation is one bucket increment plus a compare-and-swap on the sum). Family::WithLabels
// takes the family's mutex and may allocate: call it once per label set and keep the pointer
// (children live as long as the registry).
//
// Scrapes read each value atomically but not the whole registry at once: a histogram's _count is
// the sum of its buckets as read, so it always equals the +Inf bucket, while _sum may include an
// observation whose bucket was not read yet.
//
// Registration errors (invalid or duplicate names, wrong label count) are programming errors and
// CHECK-fail. Thread-safety: everything is thread-safe; collectors run on the scraping thread,
// possibly several at once, under the registry's reader lock (they must not register metrics).
#ifndef SEMISYNC_SERVER_METRICS_METRICS_H_
#define SEMISYNC_SERVER_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics/text_format.h"

namespace semisync {
namespace metrics {

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds`: finite, strictly increasing bucket bounds; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;  // without +Inf
    std::vector<uint64_t> cumulative;  // upper_bounds.size() + 1 entries, the last is +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

// Seconds, 100 µs to 10 s: for RPC latencies.
const std::vector<double>& LatencyBuckets();

// Appends the samples of one child to `family` (one overload per metric kind).
void AppendSamples(const Counter& c, const Labels& labels, MetricFamily* family);
void AppendSamples(const Gauge& g, const Labels& labels, MetricFamily* family);
void AppendSamples(const Histogram& h, const Labels& labels, MetricFamily* family);

// A metric with a fixed set of label names and one child per set of label values.
template <typename M>
class Family {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for `values` (one per label name, in order), created on first use. The pointer
  // stays valid for the family's lifetime.
  M* WithLabels(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_);

  void Collect(std::vector<MetricFamily>* out) const ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<M>()> make_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // A scrape-time source of families (for values read from live state, e.g. a status snapshot).
  using Collector = std::function<void(std::vector<MetricFamily>* out)>;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Counter names must end in "_total".
  Family<Counter>* AddCounterFamily(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names);
  Family<Gauge>* AddGaugeFamily(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names);
  Family<Histogram>* AddHistogramFamily(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> upper_bounds);
  // Unlabelled shorthands.
  Counter* AddCounter(const std::string& name, const std::string& help);
  Gauge* AddGauge(const std::string& name, const std::string& help);
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds);

  // `collector` runs on every scrape, in registration order with the families above.
  void AddCollector(Collector collector) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<MetricFamily> Collect() const ABSL_LOCKS_EXCLUDED(mu_);
  // The Prometheus text exposition (kTextContentType).
  std::string RenderText() const;

 private:
  void CheckNewName(const std::string& name, const std::vector<std::string>& label_names)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::set<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Counter>>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> sources_ ABSL_GUARDED_BY(mu_);  // families and collectors, in order
};

// ---------------------------------------------------------------------------------------------
// Implementation of the template.

namespace internal {
// CHECK-fails unless `values` has one entry per label name.
void CheckLabelCount(const std::string& family, size_t names, size_t values);
Labels Zip(const std::vector<std::string>& names, const std::vector<std::string>& values);
}  // namespace internal

template <typename M>
M* Family<M>::WithLabels(const std::vector<std::string>& values) {
  internal::CheckLabelCount(name_, label_names_.size(), values.size());
  absl::MutexLock lock(&mu_);
  std::unique_ptr<M>& child = children_[values];
  if (child == nullptr) child = make_();
  return child.get();
}

template <typename M>
void Family<M>::Collect(std::vector<MetricFamily>* out) const {
  MetricFamily family;
  family.name = name_;
  family.help = help_;
  family.type = type_;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [values, child] : children_) {
      AppendSamples(*child, internal::Zip(label_names_, values), &family);
    }
  }
  out->push_back(std::move(family));
}

}  // namespace metrics
}  // namespace semisync

#endif  // SEMISYNC_SERVER_METRICS_METRICS_H_
