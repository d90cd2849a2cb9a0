#include "admin/status_page.h"

#include <gtest/gtest.h>

#include <string>

#include "admin/sha256.h"

namespace corefork {
namespace {

TEST(Sha256Test, KnownVectors) {
  struct Case {
    std::string input;
    std::string want;  // base64 of the digest
  } cases[] = {
      {"", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
      {"abc", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
      // 56 bytes: the length needs a second padding block.
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE="},
      {std::string(1000, 'a'), "Qe3s5C1j6Nm/UVqbppMuHCDLyfWl0TRkWttdsblzfqM="},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CspHash(c.input), "sha256-" + c.want) << c.input.size();
  }
}

TEST(StatusPageTest, SelfContainedAndLockedDown) {
  std::string page(StatusPageHtml());
  // No external URL of any kind: pods are often offline.
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find(" style="), std::string::npos)
      << "inline style attributes would need 'unsafe-inline'";
  // The CSP names the hash of exactly the page's one script and style.
  auto between = [&](const std::string& open, const std::string& close) {
    size_t begin = page.find(open);
    size_t end = page.find(close);
    EXPECT_EQ(page.find(open, begin + 1), std::string::npos) << "one " << open;
    if (begin == std::string::npos || end == std::string::npos) return page;
    return page.substr(begin + open.size(), end - begin - open.size());
  };
  const std::string& csp = StatusPageCsp();
  EXPECT_NE(csp.find("script-src '" +
                     CspHash(between("<script>", "</script>")) + "'"),
            std::string::npos)
      << csp;
  EXPECT_NE(
      csp.find("style-src '" + CspHash(between("<style>", "</style>")) + "'"),
      std::string::npos)
      << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;

  HttpResponse res = StatusPageResponse();
  EXPECT_EQ(res.content_type, "text/html; charset=utf-8");
  auto header = [&](const std::string& name) {
    for (const auto& [k, v] : res.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header("Content-Security-Policy"), csp);
  EXPECT_EQ(header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header("Cache-Control"), "no-store");
}

}  // namespace
}  // namespace corefork
