#include "mbmd/core/strings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mbmd {
namespace {

TEST(Strings, TrimAndCase) {
  EXPECT_EQ(trim("  a b \t\n"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(lower("MlO"), "mlo");
  EXPECT_EQ(upper("cc"), "CC");
}

TEST(Strings, SplitKeepsEmptyParts) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(split("a,", ','), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(join({"a", "", "b"}, "+"), "a++b");
  EXPECT_EQ(join(split("x;y;z", ';'), ";"), "x;y;z");
}

TEST(Strings, DigitsAndFixed) {
  EXPECT_TRUE(all_digits("0123"));
  EXPECT_FALSE(all_digits(""));
  EXPECT_FALSE(all_digits("12a"));
  EXPECT_EQ(fixed_text(0.12345), "0.1235");
  EXPECT_EQ(fixed_text(2.0, 1), "2.0");
}

TEST(Strings, SignificantDigitsAndNonFiniteWords) {
  EXPECT_EQ(significant_text(0.000123456), "0.0001235");
  EXPECT_EQ(significant_text(20.0, 3), "20");
  EXPECT_EQ(significant_text(0.125, 3), "0.125");
  EXPECT_EQ(significant_text(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(significant_text(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(significant_text(std::nan("")), "nan");
}

TEST(Strings, MarkdownTableAlignsNamesLeftAndNumbersRight) {
  EXPECT_EQ(
      markdown_table({"metric", "fold 0", "mean"},
                     {{"AP@20", "0.1", "0.2"}, {"TPR", "n/a", "0.3"}}),
      "| metric | fold 0 | mean |\n|---|---:|---:|\n| AP@20 | 0.1 | 0.2 |\n| TPR | n/a | 0.3 |\n");
}

}  // namespace
}  // namespace mbmd
