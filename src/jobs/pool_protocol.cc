#include "jobs/pool_protocol.h"

#include <utility>

#include "util/json.h"

namespace corefork {

std::string EncodeRequest(uint64_t id, std::string_view body,
                          bool body_is_json) {
  Json request;
  request["id"] = id;
  request["input"] = std::string(body);
  if (body_is_json) {
    // No limit of our own: the control API has bounded the body already.
    Result<Json> parsed = JsonParse(body, body.size());
    if (parsed.ok()) request["input"] = std::move(parsed).value();
  }
  // JsonDump escapes every control character in strings, and its compact
  // form has no whitespace between tokens: the one newline is ours.
  std::string line = JsonDump(request);
  line += '\n';
  return line;
}

namespace {

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("malformed pool answer: " + std::string(what));
}

Result<uint64_t> AnswerId(const Json& answer) {
  auto id = answer.find("id");
  if (id == answer.end()) return Malformed("no \"id\"");
  if (id->is_number_unsigned()) return id->get<uint64_t>();
  // nlohmann parses a non-negative integer as unsigned, so what is left
  // here is negative, fractional, too large, or not a number at all.
  if (id->is_number_integer()) return Malformed("\"id\" is negative");
  // Named by its kind, not its value: an id may be a megabyte of string.
  const std::string kind =
      id->is_number_float() ? "floating-point number" : id->type_name();
  return Malformed("\"id\" is a " + kind + ", not a non-negative integer");
}

}  // namespace

Result<PoolAnswer> ParseAnswer(std::string_view line) {
  Result<Json> parsed = JsonParse(line, line.size());
  if (!parsed.ok()) return parsed.status().Wrap("malformed pool answer");
  const Json& answer = *parsed;
  if (!answer.is_object()) return Malformed("not a JSON object");

  PoolAnswer result;
  Result<uint64_t> id = AnswerId(answer);
  if (!id.ok()) return id.status();
  result.id = *id;

  auto output = answer.find("output");
  auto error = answer.find("error");
  const bool has_output = output != answer.end();
  // Writers that always fill both keys send "error":null on success.
  const bool has_error = error != answer.end() && !error->is_null();
  if (!has_output && !has_error) {
    return Malformed("neither \"output\" nor \"error\"");
  }
  if (has_error) {
    if (!error->is_string()) return Malformed("\"error\" is not a string");
    result.error = error->get<std::string>();
  }
  if (has_output) {
    result.output =
        output->is_string() ? output->get<std::string>() : JsonDump(*output);
  }
  return result;
}

Status PoolAnswerReader::Feed(std::string_view data,
                              std::vector<PoolAnswer>* answers) {
  if (!status_.ok()) return status_;
  splitter_.Feed(data, [&](std::string_view line, bool cut) {
    if (cut) {
      status_ = Status::InvalidArgument("pool answer line over the limit of " +
                                        std::to_string(splitter_.max_line()) +
                                        " bytes");
      return false;
    }
    Result<PoolAnswer> answer = ParseAnswer(line);
    if (!answer.ok()) {
      status_ = answer.status();
      return false;
    }
    answers->push_back(std::move(answer).value());
    return true;
  });
  // Nothing after a bad line is read again: free what is held.
  if (!status_.ok()) splitter_.Reset();
  return status_;
}

}  // namespace corefork
