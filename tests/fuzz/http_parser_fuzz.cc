// libFuzzer target for the HTTP request parser (src/admin/http_lite), the
// one both corefork servers read every request with. The input is fed twice:
// whole, and in chunks of sizes drawn from the input itself, as a socket
// might deliver it; both must give the same verdict and the same request,
// and the bytes after a request (the next, pipelined one) must be the same.
// Pipelined requests are parsed in turn, up to a bound. A crash, sanitizer
// report, leak, or a verdict that depends on the chunking is a finding.
// Built only with -DCOREFORK_FUZZ=ON (tests/fuzz/CMakeLists.txt).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin/http_lite.h"

namespace {

using corefork::HttpLimits;
using corefork::RequestParser;
using State = RequestParser::State;

struct Outcome {
  State state = State::kNeedMore;
  int status = 0;  // kError
  std::string method, target, body, leftover;
  size_t headers = 0;
};

// A small deterministic generator for chunk sizes.
struct Rng {
  uint32_t s;
  uint32_t Next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
};

Outcome Finish(RequestParser& parser, std::string_view unfed) {
  Outcome o;
  o.state = parser.state();
  if (o.state == State::kError) {
    o.status = parser.error().status;
    // Every error response must format.
    if (corefork::FormatResponse(parser.error()).empty()) __builtin_trap();
  }
  if (o.state == State::kDone) {
    o.method = parser.request().method;
    o.target = parser.request().target;
    o.body = parser.request().body;
    o.headers = parser.request().headers.size();
    o.leftover = parser.TakeLeftover();
    o.leftover.append(unfed);
  }
  return o;
}

Outcome Whole(const HttpLimits& limits, std::string_view input) {
  RequestParser parser(limits);
  parser.Feed(input);
  return Finish(parser, "");
}

Outcome Chunked(const HttpLimits& limits, std::string_view input, Rng& rng) {
  RequestParser parser(limits);
  while (!input.empty() && parser.state() == State::kNeedMore) {
    size_t n = 1 + rng.Next() % (rng.Next() % 4 == 0 ? 512 : 8);
    n = std::min(n, input.size());
    parser.Feed(input.substr(0, n));
    input.remove_prefix(n);
  }
  return Finish(parser, input);
}

bool Same(const Outcome& a, const Outcome& b) {
  return a.state == b.state && a.status == b.status && a.method == b.method &&
         a.target == b.target && a.body == b.body && a.headers == b.headers &&
         a.leftover == b.leftover;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4 || size > (1u << 16)) return 0;
  // The first bytes pick the limits and the chunking; the rest is the wire.
  HttpLimits limits;
  limits.max_header_bytes = 64 + (data[0] | (data[1] & 0x3f) << 8);
  limits.max_body_bytes = data[2] % 2 == 0 ? 0 : 1 + data[2] * 16u;
  Rng rng{0x9e3779b9u ^ data[3]};
  std::string_view input(reinterpret_cast<const char*>(data) + 4, size - 4);

  // Up to 8 pipelined requests, each parsed whole and chunked.
  for (int i = 0; i < 8 && !input.empty(); ++i) {
    Outcome whole = Whole(limits, input);
    Outcome chunked = Chunked(limits, input, rng);
    if (!Same(whole, chunked)) __builtin_trap();
    if (whole.state != State::kDone) break;
    // Framing: what comes next is exactly what follows this request.
    if (whole.leftover.size() >= input.size()) __builtin_trap();
    if (input.substr(input.size() - whole.leftover.size()) != whole.leftover) {
      __builtin_trap();
    }
    if (whole.body.size() > limits.max_body_bytes) __builtin_trap();
    input.remove_prefix(input.size() - whole.leftover.size());
  }
  return 0;
}
