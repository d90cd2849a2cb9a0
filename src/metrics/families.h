// Small helpers that build metric families, so each new group of metrics
// (launcher, per worker, jobs, ...) is a few declarative lines. Register*()
// add a family to a registry (prometheus-cpp owns it; the reference lives as
// long as the registry). MakeFamily()/AddSample() build plain values for
// figures read at scrape time, on the scraping thread, outside any registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

namespace corefork {

prometheus::Family<prometheus::Gauge>& RegisterGauge(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help);
prometheus::Family<prometheus::Counter>& RegisterCounter(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help);
prometheus::Family<prometheus::Histogram>& RegisterHistogram(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help);

// An empty family; add samples with AddSample().
prometheus::MetricFamily MakeFamily(const std::string& name,
                                    const std::string& help,
                                    prometheus::MetricType type);

// Appends one sample to a counter, gauge or untyped family (a histogram or
// summary sample needs its ClientMetric fields filled by hand).
void AddSample(prometheus::MetricFamily& family,
               const prometheus::Labels& labels, double value);

// Sorts each family's samples by their labels: prometheus-cpp keeps them in
// a hash map, and a stable order makes the exposition readable and diffable.
void SortSamplesByLabels(std::vector<prometheus::MetricFamily>& families);

// Sorts families by name (stable: equal names keep their order).
void SortFamiliesByName(std::vector<prometheus::MetricFamily>& families);

}  // namespace corefork
