// SHA-256 (FIPS 180-4) of a string, for the status page's
// Content-Security-Policy hashes ('sha256-<base64>'): computed once per
// process over a few kilobytes, so a small portable implementation does.
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace corefork {

std::array<uint8_t, 32> Sha256(std::string_view data);
std::string Base64(const uint8_t* data, size_t size);
// "sha256-<base64 digest>", the CSP source expression for `data`.
std::string CspHash(std::string_view data);

}  // namespace corefork
