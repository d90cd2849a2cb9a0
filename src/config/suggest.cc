#include "config/suggest.h"

#include <algorithm>
#include <vector>

namespace corefork {

int EditDistance(std::string_view a, std::string_view b) {
  const size_t rows = a.size() + 1;
  const size_t cols = b.size() + 1;
  std::vector<int> d(rows * cols);
  auto at = [&](size_t i, size_t j) -> int& { return d[i * cols + j]; };
  for (size_t i = 0; i < rows; ++i) at(i, 0) = static_cast<int>(i);
  for (size_t j = 0; j < cols; ++j) at(0, j) = static_cast<int>(j);
  for (size_t i = 1; i < rows; ++i) {
    for (size_t j = 1; j < cols; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min(
          {at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, cols - 1);
}

std::optional<std::string> ClosestMatch(
    std::string_view word, std::span<const std::string_view> candidates) {
  const int limit = word.size() >= 5 ? 2 : 1;
  std::optional<std::string> best;
  int best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    int distance = EditDistance(word, candidate);
    if (distance > 0 && distance < best_distance) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace corefork
