#include "metrics/families.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace corefork {

prometheus::Family<prometheus::Gauge>& RegisterGauge(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Counter>& RegisterCounter(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& RegisterHistogram(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::MetricFamily MakeFamily(const std::string& name,
                                    const std::string& help,
                                    prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily& family,
               const prometheus::Labels& labels, double value) {
  prometheus::ClientMetric sample;
  for (const auto& [name, label_value] : labels) {
    sample.label.push_back({name, label_value});
  }
  switch (family.type) {
    case prometheus::MetricType::Counter:
      sample.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      sample.gauge.value = value;
      break;
    default:  // untyped; histograms and summaries are not one value
      sample.untyped.value = value;
      break;
  }
  family.metric.push_back(std::move(sample));
}

void SortSamplesByLabels(std::vector<prometheus::MetricFamily>& families) {
  for (prometheus::MetricFamily& family : families) {
    std::stable_sort(
        family.metric.begin(), family.metric.end(),
        [](const prometheus::ClientMetric& a,
           const prometheus::ClientMetric& b) { return a.label < b.label; });
  }
}

void SortFamiliesByName(std::vector<prometheus::MetricFamily>& families) {
  std::stable_sort(
      families.begin(), families.end(),
      [](const prometheus::MetricFamily& a, const prometheus::MetricFamily& b) {
        return a.name < b.name;
      });
}

}  // namespace corefork
