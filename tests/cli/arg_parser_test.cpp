// The option parser every command uses: values, defaults, flags, repeated options, bindings.
#include "arg_parser.h"

#include <gtest/gtest.h>

#include "mbmd/core/error.h"

namespace mbmd::cli {
namespace {

struct Bound {
  std::string name = "kept";
  int count = -1;
  int64_t epochs = 0;
  double thr = 0.25;
  bool quick = true;
  std::vector<std::string> sets;
};

ArgParser bound_parser(Bound& b) {
  ArgParser parser("test", "a test command");
  parser.option("name", "a text")
      .to(&b.name)
      .option("count", "an integer")
      .to(&b.count)
      .option("epochs", "an integer with a default", "12")
      .to(&b.epochs)
      .option("thr", "a number")
      .to(&b.thr)
      .flag("quick", "a flag")
      .to(&b.quick)
      .option("set", "repeated", "", true)
      .to(&b.sets);
  return parser;
}

TEST(ArgParser, BoundOptionsGetTheirValuesOrDefaults) {
  Bound b;
  ArgParser parser = bound_parser(b);
  ASSERT_TRUE(parser.parse({"--name", "x", "--count=3", "--set", "a=1", "--set", "b=2"}));
  EXPECT_EQ(b.name, "x");
  EXPECT_EQ(b.count, 3);
  EXPECT_EQ(b.epochs, 12);        // its default
  EXPECT_DOUBLE_EQ(b.thr, 0.25);  // not given, no default: left as it was
  EXPECT_FALSE(b.quick);          // a flag not given is false
  EXPECT_EQ(b.sets, (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(ArgParser, BadValuesNameTheOption) {
  Bound b;
  ArgParser parser = bound_parser(b);
  try {
    parser.parse({"--count", "three"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--count"), std::string::npos) << e.what();
  }
  Bound c;
  EXPECT_THROW(bound_parser(c).parse({"--nope", "1"}), Error);
  Bound d;
  EXPECT_THROW(bound_parser(d).parse({"--quick=yes"}), Error);
  Bound e;
  EXPECT_THROW(bound_parser(e).parse({"--thr"}), Error);
}

TEST(ArgParser, HelpListsOptionsAndStopsParsing) {
  Bound b;
  ArgParser parser = bound_parser(b);
  ::testing::internal::CaptureStdout();
  EXPECT_FALSE(parser.parse({"--help"}));
  const std::string help = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(help.find("--epochs VALUE"), std::string::npos) << help;
  EXPECT_NE(help.find("(default: 12)"), std::string::npos) << help;
  EXPECT_EQ(b.name, "kept");
}

}  // namespace
}  // namespace mbmd::cli
