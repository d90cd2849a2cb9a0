#include "metrics/app_metrics.h"

#include <map>
#include <optional>
#include <set>

namespace corefork {
namespace {

// Sample names that belong to a family declared under a shorter name.
constexpr std::string_view kSuffixes[] = {"_bucket", "_sum",     "_count",
                                          "_total",  "_created", "_info",
                                          "_gsum",   "_gcount"};

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

size_t NameLength(std::string_view s) {
  if (s.empty() || !IsNameStart(s[0])) return 0;
  size_t n = 1;
  while (n < s.size() && IsNameChar(s[n])) ++n;
  return n;
}

std::string_view NextLine(std::string_view& text) {
  const size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

struct Family {
  std::string help;
  std::string type;
  std::string samples;  // lines, each ending in '\n'
  bool declared = false;
  bool from_workers = false;
};

constexpr int kOwn = -1;  // the slot of corefork's own exposition

// A "# HELP name text" or "# TYPE name type" line: the name and the rest.
std::optional<std::pair<std::string_view, std::string_view>> Descriptor(
    std::string_view line, std::string_view keyword) {
  if (line.substr(0, keyword.size()) != keyword) return std::nullopt;
  line.remove_prefix(keyword.size());
  const size_t n = NameLength(line);
  if (n == 0 || (n < line.size() && line[n] != ' ')) return std::nullopt;
  std::string_view rest = line.substr(n);
  if (!rest.empty()) rest.remove_prefix(1);
  return std::make_pair(line.substr(0, n), rest);
}

// Rewrites one sample line with worker="slot" first among its labels; false
// when the line is not a valid sample.
bool Relabel(std::string_view line, size_t name_length, int slot,
             std::string* out) {
  out->append(line.substr(0, name_length));
  out->append("{worker=\"").append(std::to_string(slot)).append("\"");
  std::string_view rest = line.substr(name_length);
  if (!rest.empty() && rest[0] == '{') {
    rest.remove_prefix(1);
    for (;;) {
      while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      if (!rest.empty() && rest[0] == '}') {
        rest.remove_prefix(1);
        break;
      }
      const size_t n = NameLength(rest);
      if (n == 0 || n + 1 >= rest.size() || rest[n] != '=' ||
          rest[n + 1] != '"') {
        return false;
      }
      std::string_view label = rest.substr(0, n);
      out->append(",").append(label == "worker" ? "exported_worker" : label);
      out->append("=\"");
      size_t i = n + 2;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\') ++i;  // an escaped character: \\ \" \n
      }
      if (i >= rest.size()) return false;  // no closing quote
      out->append(rest.substr(n + 2, i - n - 2)).append("\"");
      rest.remove_prefix(i + 1);
      while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      if (!rest.empty() && rest[0] == ',') rest.remove_prefix(1);
    }
  }
  out->append("}");
  if (rest.empty() || rest[0] != ' ') return false;  // no value
  out->append(rest).append("\n");
  return true;
}

}  // namespace

std::string MergeAppMetrics(std::string_view own,
                            const std::vector<WorkerMetrics>& workers,
                            MergeCounts* counts) {
  MergeCounts local;
  if (counts == nullptr) counts = &local;
  std::vector<std::string> order;  // families, first seen first
  std::map<std::string, Family, std::less<>> families;
  auto family = [&](std::string_view name) -> Family& {
    auto it = families.find(name);
    if (it == families.end()) {
      it = families.emplace(std::string(name), Family{}).first;
      order.emplace_back(name);
    }
    return it->second;
  };
  std::vector<WorkerMetrics> all;
  all.push_back({kOwn, own});
  all.insert(all.end(), workers.begin(), workers.end());
  for (const WorkerMetrics& worker : all) {
    std::string_view text = worker.text;
    std::string current;  // the family the last HELP/TYPE line named
    // Families whose TYPE this worker gives differently from an earlier
    // worker: their samples would not fit the merged TYPE line.
    std::set<std::string, std::less<>> clashing;
    while (!text.empty()) {
      std::string_view line = NextLine(text);
      if (line.empty()) continue;
      if (line[0] == '#') {
        auto help = Descriptor(line, "# HELP ");
        auto type = help ? std::nullopt : Descriptor(line, "# TYPE ");
        if (!help && !type) continue;  // another comment
        const auto& [name, rest] = help ? *help : *type;
        current = std::string(name);
        Family& f = family(name);
        if (help && f.help.empty()) f.help = std::string(rest);
        if (type) {
          if (f.type.empty()) {
            f.type = std::string(rest);
          } else if (f.type != rest) {
            clashing.insert(current);
          }
        }
        f.declared = true;
        if (worker.slot != kOwn) f.from_workers = true;
        continue;
      }
      const size_t n = NameLength(line);
      std::string_view name = line.substr(0, n);
      std::string_view owner = name;
      if (!current.empty() && name.substr(0, current.size()) == current) {
        std::string_view suffix = name.substr(current.size());
        if (suffix.empty()) owner = current;
        for (std::string_view s : kSuffixes) {
          if (suffix == s) owner = current;
        }
      }
      if (n == 0 || clashing.count(owner) != 0) {
        ++counts->dropped_lines;
        continue;
      }
      Family& f = family(owner);
      const size_t before = f.samples.size();
      if (worker.slot == kOwn) {
        f.samples.append(line).append("\n");
      } else if (!Relabel(line, n, worker.slot, &f.samples)) {
        f.samples.resize(before);
        ++counts->dropped_lines;
        continue;
      }
      if (worker.slot != kOwn) {
        ++counts->samples;
        f.from_workers = true;
      }
    }
  }
  std::string out;
  for (const std::string& name : order) {
    const Family& f = families.at(name);
    if (f.samples.empty() && !f.declared) continue;
    if (f.from_workers) ++counts->families;
    if (!f.help.empty())
      out.append("# HELP ").append(name + " " + f.help + "\n");
    if (!f.type.empty())
      out.append("# TYPE ").append(name + " " + f.type + "\n");
    out.append(f.samples);
  }
  return out;
}

}  // namespace corefork
