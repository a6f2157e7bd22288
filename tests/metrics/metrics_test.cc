// Tests for the metrics registry (server/metrics/metrics.h) and the Prometheus text renderer
// (server/metrics/text_format.h).
#include "server/metrics/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/text_format.h"

namespace semisync {
namespace metrics {
namespace {

using ::testing::HasSubstr;

TEST(TextFormatTest, RendersHelpTypeAndSamples) {
  MetricFamily f;
  f.name = "jobs_total";
  f.help = "Jobs done.";
  f.type = MetricType::kCounter;
  f.samples.push_back({"", {{"queue", "a"}, {"kind", "x"}}, 3});
  f.samples.push_back({"", {}, 0.5});
  EXPECT_EQ(RenderText({f}),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total{queue=\"a\",kind=\"x\"} 3\n"
            "jobs_total 0.5\n");
}

TEST(TextFormatTest, EscapesLabelValuesAndHelp) {
  MetricFamily f;
  f.name = "g";
  f.help = "back\\slash\nnew \"quoted\"";
  f.type = MetricType::kGauge;
  f.samples.push_back({"", {{"l", "a\"b\\c\nd"}}, 1});
  EXPECT_EQ(RenderText({f}),
            "# HELP g back\\\\slash\\nnew \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{l=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(TextFormatTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(18446744073709551615.0), "1.8446744073709552e+19");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(TextFormatTest, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("rpl_semi_sync_master_yes_tx_total"));
  EXPECT_TRUE(IsValidMetricName("a:b"));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("has-dash"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("slave_id"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(RegistryTest, CountersAndGaugesRenderInRegistrationOrder) {
  Registry r;
  Counter* c = r.AddCounter("b_total", "B.");
  Gauge* g = r.AddGauge("a", "A.");
  c->Increment();
  c->Increment(2);
  g->Set(5);
  g->Add(-1.5);
  EXPECT_EQ(c->Value(), 3u);
  EXPECT_EQ(g->Value(), 3.5);
  EXPECT_EQ(r.RenderText(),
            "# HELP b_total B.\n# TYPE b_total counter\nb_total 3\n"
            "# HELP a A.\n# TYPE a gauge\na 3.5\n");
}

TEST(RegistryTest, LabelledChildrenAreStableAndSorted) {
  Registry r;
  Family<Counter>* f = r.AddCounterFamily("req_total", "Requests.", {"method", "code"});
  Counter* ok = f->WithLabels({"Get", "OK"});
  EXPECT_EQ(f->WithLabels({"Get", "OK"}), ok);
  ok->Increment();
  f->WithLabels({"Create", "NOT_FOUND"})->Increment(4);
  EXPECT_THAT(r.RenderText(), HasSubstr("req_total{method=\"Create\",code=\"NOT_FOUND\"} 4\n"
                                        "req_total{method=\"Get\",code=\"OK\"} 1\n"));
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  Histogram* h = r.AddHistogram("lat_seconds", "Latency.", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(0.5);
  h->Observe(7);
  EXPECT_EQ(r.RenderText(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.1\"} 2\n"
            "lat_seconds_bucket{le=\"1\"} 3\n"
            "lat_seconds_bucket{le=\"+Inf\"} 4\n"
            "lat_seconds_sum 7.65\n"
            "lat_seconds_count 4\n");
}

TEST(RegistryTest, HistogramLabelsComeBeforeLe) {
  Registry r;
  r.AddHistogramFamily("h_seconds", "H.", {"method"}, {1})->WithLabels({"M"})->Observe(2);
  EXPECT_THAT(r.RenderText(), HasSubstr("h_seconds_bucket{method=\"M\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(r.RenderText(), HasSubstr("h_seconds_count{method=\"M\"} 1\n"));
}

TEST(RegistryTest, CollectorsRunAtEveryScrape) {
  Registry r;
  int calls = 0;
  r.AddCollector([&calls](std::vector<MetricFamily>* out) {
    ++calls;
    MetricFamily f;
    f.name = "live";
    f.help = "Read at scrape time.";
    f.type = MetricType::kGauge;
    f.samples.push_back({"", {}, static_cast<double>(calls)});
    out->push_back(f);
  });
  EXPECT_THAT(r.RenderText(), HasSubstr("live 1\n"));
  EXPECT_THAT(r.RenderText(), HasSubstr("live 2\n"));
}

TEST(RegistryTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Counter* c = r.AddCounter("n_total", "N.");
  Histogram* h = r.AddHistogram("h", "H.", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Increment();
        h->Observe(0.001);
      }
    });
  }
  std::string scraped;
  for (int i = 0; i < 10; ++i) scraped = r.RenderText();  // scrapes race with the updates
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000u);
  const Histogram::Snapshot s = h->Read();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_NEAR(s.sum, 40.0, 1e-6);
}

TEST(RegistryDeathTest, RejectsBadRegistrations) {
  Registry r;
  r.AddCounter("x_total", "X.");
  EXPECT_DEATH(r.AddCounter("x_total", "again"), "registered twice");
  EXPECT_DEATH(r.AddCounter("no_suffix", "X."), "_total");
  EXPECT_DEATH(r.AddGauge("bad-name", "X."), "invalid metric name");
  Family<Gauge>* f = r.AddGaugeFamily("g", "G.", {"a"});
  EXPECT_DEATH(f->WithLabels({"1", "2"}), "wrong number of label values");
  EXPECT_DEATH(r.AddGaugeFamily("h", "H.", {"le"}), "invalid label");
}

}  // namespace
}  // namespace metrics
}  // namespace semisync
