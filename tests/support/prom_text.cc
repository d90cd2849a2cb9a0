#include "support/prom_text.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace corefork::harness {

namespace {

bool Includes(const Labels& have, const Labels& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

// Parses `{a="x",b="y"}` starting at line[*pos] == '{'.
bool ParseLabels(const std::string& line, size_t* pos, Labels* out) {
  size_t i = *pos + 1;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
    if (i >= line.size()) return false;
    if (line[i] == '}') {
      *pos = i + 1;
      return true;
    }
    size_t eq = line.find('=', i);
    if (eq == std::string::npos || eq + 1 >= line.size() ||
        line[eq + 1] != '"') {
      return false;
    }
    std::string key = line.substr(i, eq - i);
    std::string value;
    size_t j = eq + 2;
    for (; j < line.size() && line[j] != '"'; ++j) {
      if (line[j] == '\\' && j + 1 < line.size()) {
        ++j;
        value += line[j] == 'n' ? '\n' : line[j];
      } else {
        value += line[j];
      }
    }
    if (j >= line.size()) return false;
    (*out)[key] = value;
    i = j + 1;
  }
}

double ParseValue(const std::string& text, bool* ok) {
  if (text == "+Inf" || text == "Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  *ok = end != text.c_str() && *end == '\0';
  return v;
}

}  // namespace

PromScrape ParsePromText(const std::string& text) {
  PromScrape out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, family;
      words >> hash >> kind >> family;
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (kind == "TYPE") out.types[family] = rest;
      if (kind == "HELP") out.helps[family] = rest;
      continue;
    }
    PromSample s;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) {
      out.errors.push_back(line);
      continue;
    }
    s.name = line.substr(0, pos);
    if (line[pos] == '{' && !ParseLabels(line, &pos, &s.labels)) {
      out.errors.push_back(line);
      continue;
    }
    std::istringstream rest(line.substr(pos));
    std::string value;
    rest >> value;  // a timestamp may follow; ignored
    bool ok = true;
    s.value = ParseValue(value, &ok);
    if (!ok) {
      out.errors.push_back(line);
      continue;
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

std::optional<double> PromScrape::Get(const std::string& name,
                                      const Labels& labels) const {
  for (const PromSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

double PromScrape::Sum(const std::string& name, const Labels& labels) const {
  double sum = 0;
  for (const PromSample& s : samples) {
    if (s.name == name && Includes(s.labels, labels)) sum += s.value;
  }
  return sum;
}

size_t PromScrape::Count(const std::string& name, const Labels& labels) const {
  size_t n = 0;
  for (const PromSample& s : samples) {
    if (s.name == name && Includes(s.labels, labels)) ++n;
  }
  return n;
}

std::vector<PromSample> PromScrape::All(const std::string& name) const {
  std::vector<PromSample> all;
  for (const PromSample& s : samples) {
    if (s.name == name) all.push_back(s);
  }
  return all;
}

}  // namespace corefork::harness
