// The line protocol between corefork and a job pool's long-lived process
// (docs/jobs.md, "Pools (protocol)"): one JSON request per line on its
// stdin, one JSON answer per line on its stdout. Pure encoding and parsing,
// no I/O: the pool owns the pipes and feeds bytes in. Plain values and
// functions; a PoolAnswerReader belongs to one reader (not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loop/line_splitter.h"
#include "util/status.h"

namespace corefork {

// One run's request as its line, newline included:
//   {"id":7,"input":"the body as a string"}
//   {"id":7,"input":{"n":30}}        (body_is_json and the body parses)
// A body that claims JSON but does not parse (strictly: valid UTF-8, no
// duplicate keys, nothing after the value) goes as a string, as if it had
// not claimed it. JSON input is re-serialized compactly; bytes that are not
// valid UTF-8 in a string body become U+FFFD. Control characters, newlines
// included, are escaped, so the line holds no raw newline but its last byte.
std::string EncodeRequest(uint64_t id, std::string_view body,
                          bool body_is_json);

// One answer, as the process wrote it.
struct PoolAnswer {
  uint64_t id = 0;
  // A JSON string answer unwrapped ("832040" for "832040"); any other JSON
  // value as its compact JSON text ({"a":1} stays {"a":1}, 3 is "3", null
  // is "null"); empty when the answer has only an error.
  std::string output;
  // Set when the process reported a failure; the run fails with it.
  std::optional<std::string> error;
};

// `line` (without its newline) as an answer: a JSON object with "id" (a
// non-negative integer) and "output" (any JSON value) and/or "error" (a
// string; null counts as absent). Other keys are ignored. Anything else is
// an InvalidArgument error saying what is wrong. No size limit of its own:
// PoolAnswerReader bounds the lines it hands over.
Result<PoolAnswer> ParseAnswer(std::string_view line);

// Turns the bytes of a pool process's stdout, in pieces of any size, into
// answers. It holds at most `max_line` bytes of an unfinished answer (its
// string grows by doubling, so up to about twice that in capacity); a
// longer line is an error, not buffered. The first error (a line over the limit
// or one ParseAnswer refuses) is final: the process broke the protocol, the
// caller kills it, and every later Feed returns the same error without reading.
class PoolAnswerReader {
 public:
  static constexpr size_t kDefaultMaxLine = 1 << 20;  // 1 MiB

  explicit PoolAnswerReader(size_t max_line = kDefaultMaxLine)
      : splitter_(max_line) {}

  // Appends to `answers` each answer that `data` completes, in order,
  // including those before a bad line in the same piece; then returns OK,
  // or the error that ended the protocol.
  Status Feed(std::string_view data, std::vector<PoolAnswer>* answers);

  // Bytes of an unfinished answer held (at most max_line()): non-zero when
  // the process's stdout ends mid-answer.
  size_t buffered() const { return splitter_.partial().size(); }
  size_t max_line() const { return splitter_.max_line(); }
  const Status& status() const { return status_; }

 private:
  LineSplitter splitter_;
  Status status_;  // OK until the first bad line, then that error for good
};

}  // namespace corefork
