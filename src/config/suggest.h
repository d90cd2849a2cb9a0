// "Did you mean ...?" for misspelled keys and options: the candidate closest
// to a word by edit distance (with transpositions), if it is close enough to
// be a likely typo. Pure functions, safe from any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corefork {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of adjacent characters each cost 1.
int EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when at most 1 edit away (2 for words of
// 5+ characters) and not `word` itself; nullopt otherwise.
std::optional<std::string> ClosestMatch(
    std::string_view word, std::span<const std::string_view> candidates);

}  // namespace corefork
