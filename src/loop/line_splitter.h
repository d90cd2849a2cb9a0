// LineSplitter: turns bytes read from a pipe or socket, in pieces of any
// size, into lines, holding at most `max_line` bytes of an unfinished line.
// A longer line is handed over cut (its first max_line bytes, `cut` set)
// and the rest of it, up to the next newline, is dropped: the caller
// decides what a cut line means (log it marked, ignore it, close the
// channel). Owned by one reader; not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace corefork {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}

  // Calls on_line(std::string_view line, bool cut) for each complete or cut
  // line in `data`, without the newline. on_line returns false to stop:
  // the rest of `data` is then left unread (e.g. the channel was closed).
  template <typename OnLine>
  void Feed(std::string_view data, OnLine&& on_line);

  // The unfinished line so far (empty while dropping a cut line's rest);
  // Reset() forgets it and frees its memory.
  const std::string& partial() const { return partial_; }
  void Reset();

  size_t max_line() const { return max_line_; }

 private:
  size_t max_line_;
  std::string partial_;
  bool dropping_ = false;  // inside the rest of a cut line
};

template <typename OnLine>
void LineSplitter::Feed(std::string_view data, OnLine&& on_line) {
  while (!data.empty()) {
    const size_t newline = data.find('\n');
    const std::string_view piece = data.substr(0, newline);
    if (!dropping_) {
      const size_t room = max_line_ - partial_.size();
      if (piece.size() > room) {
        partial_.append(piece.substr(0, room));
        std::string line = std::move(partial_);
        partial_.clear();
        dropping_ = true;
        if (!on_line(std::string_view(line), true)) return;
      } else {
        partial_.append(piece);
      }
    }
    if (newline == std::string_view::npos) return;
    data.remove_prefix(newline + 1);
    if (dropping_) {
      dropping_ = false;
      continue;
    }
    std::string line = std::move(partial_);
    partial_.clear();
    if (!on_line(std::string_view(line), false)) return;
  }
}

}  // namespace corefork
