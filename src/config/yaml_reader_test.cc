#include "config/yaml_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "config/values.h"

namespace corefork {
namespace {

TEST(LoadYamlDocumentsTest, FirstDocumentAndCount) {
  YamlDocuments one = LoadYamlDocuments("workers: 2\nport: 80\n");
  EXPECT_EQ(one.count, 1u);
  ASSERT_TRUE(one.first.IsMap());
  EXPECT_EQ(one.first["workers"].as<std::string>(), "2");

  YamlDocuments two = LoadYamlDocuments("a: 1\n---\nb: 2\n");
  EXPECT_EQ(two.count, 2u);
  EXPECT_EQ(two.first["a"].as<std::string>(), "1");
  EXPECT_EQ(two.second.line, 1);

  YamlDocuments none = LoadYamlDocuments("");
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(none.first.IsNull());

  std::string many;
  for (int i = 0; i < 40; ++i) many += "---\na: 1\n";
  EXPECT_EQ(LoadYamlDocuments(many).count, 16u) << "counting stops at the cap";
}

// yaml-cpp 0.7's LoadAll never returns on these (found by
// tests/fuzz/config_fuzz): each must be a syntax error with a position.
TEST(LoadYamlDocumentsTest, StrayFlowTokensAreErrorsNotEndlessDocuments) {
  for (const char* text : {",", "  ,\n", "  ,  resizePolicy:\n      - resou",
                           "]", "}", "a: 1\n---\n,"}) {
    try {
      YamlDocuments docs = LoadYamlDocuments(text);
      // Reaching the cap is fine too: bounded either way.
      EXPECT_LE(docs.count, 16u) << text;
      if (std::string(text).starts_with("a: 1")) {
        EXPECT_GE(docs.count, 2u) << text;
      } else {
        ADD_FAILURE() << Quote(text) << ": accepted with " << docs.count
                      << " documents";
      }
    } catch (const YAML::Exception& e) {
      EXPECT_GE(e.mark.line, 0) << text;
    }
  }
}

}  // namespace
}  // namespace corefork
