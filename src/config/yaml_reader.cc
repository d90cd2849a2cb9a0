#include "config/yaml_reader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "config/suggest.h"
#include "config/values.h"

namespace corefork {

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    default:
      return "nothing";
  }
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

namespace {

// Remembers where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> starts;
};

}  // namespace

YamlDocuments LoadYamlDocuments(const std::string& text, size_t max_count) {
  YamlDocuments docs;
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  int last_pos = -1;
  // Bounded by max_count; each turn consumes input or throws.
  while (docs.count < max_count && parser.HandleNextDocument(handler)) {
    if (handler.starts.size() <= docs.count) break;  // no start event: done
    const YAML::Mark start = handler.starts[docs.count];
    if (start.pos <= last_pos) {
      throw YAML::ParserException(
          start,
          "cannot parse this (a stray ',', ']' or '}' outside [] or {}?)");
    }
    last_pos = start.pos;
    if (docs.count == 1) docs.second = start;
    ++docs.count;
  }
  // YAML::Load reads only the first document, so it cannot loop.
  if (docs.count > 0) docs.first = YAML::Load(text);
  return docs;
}

Origin YamlReader::At(const YAML::Node& node, std::string path) const {
  return At(node.Mark(), std::move(path));
}

Origin YamlReader::At(const YAML::Mark& mark, std::string path) const {
  if (mark.line < 0 || mark.column < 0) {
    return Origin{file_, 0, 0, std::move(path)};
  }
  return Origin{file_, mark.line + 1, mark.column + 1, std::move(path)};
}

Origin YamlReader::At(const YamlEntry& entry) const {
  return At(entry.value.IsNull() ? entry.key_node : entry.value, entry.path);
}

void YamlReader::Error(const Origin& at, std::string_view message) {
  errors_->push_back(ErrorAt(at, message));
}

void YamlReader::Expected(const YamlEntry& entry, std::string_view what) {
  Error(At(entry),
        fmt::format("expected {}, got {}", what, DescribeNode(entry.value)));
}

void YamlReader::ReportValue(const YamlEntry& entry, std::string message) {
  // Value parsers saw "" for a null; say what the file really holds.
  constexpr std::string_view kGotEmpty = ", got \"\"";
  if (entry.value.IsNull() && message.ends_with(kGotEmpty)) {
    message.resize(message.size() - kGotEmpty.size());
    message += ", got nothing";
  }
  Error(At(entry), message);
}

void YamlReader::ReportUnknownKey(const YAML::Node& key_node,
                                  std::string_view path, std::string_view key,
                                  const std::vector<std::string_view>& known,
                                  Hint hint) {
  std::optional<std::string> suggestion;
  if (hint != nullptr) suggestion = hint(key);
  if (!suggestion) {
    std::optional<std::string> near = ClosestMatch(key, known);
    if (near) suggestion = JoinPath(path, *near);
  }
  std::string message =
      fmt::format("unknown key {}", Quote(JoinPath(path, key)));
  if (suggestion)
    message += fmt::format(" (did you mean {}?)", Quote(*suggestion));
  Error(At(key_node, ""), message);
}

std::vector<YamlEntry> YamlReader::Entries(
    const YAML::Node& map, std::string_view path,
    const std::vector<std::string_view>* known, Hint hint) {
  std::vector<YamlEntry> entries;
  std::map<std::string, int> first_line;  // key -> line it was first set on
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies: it-> yields a proxy that dies at the end of the statement.
    const YAML::Node key_node = it->first;
    if (!key_node.IsScalar()) {
      Error(At(key_node, std::string(path)),
            fmt::format("expected a key name, got {}", DescribeNode(key_node)));
      continue;
    }
    std::string key = key_node.Scalar();
    if (known != nullptr &&
        std::find(known->begin(), known->end(), key) == known->end()) {
      ReportUnknownKey(key_node, path, key, *known, hint);
      continue;
    }
    Origin at = At(key_node, "");
    auto [seen, inserted] = first_line.emplace(key, at.line);
    if (!inserted) {
      Error(at, fmt::format("duplicate key {} (first set on line {})",
                            Quote(JoinPath(path, key)), seen->second));
      continue;
    }
    entries.push_back(
        YamlEntry{key, JoinPath(path, key), key_node, it->second});
  }
  return entries;
}

}  // namespace corefork
