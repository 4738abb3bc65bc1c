#include "mbmd/core/child_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>

#include "mbmd/core/error.h"

namespace mbmd {
namespace {

TEST(ChildProcess, ReadsLinesAndBytesThenTheExitStatusAndErrorOutput) {
  ChildProcess child({"/bin/sh", "-c", "printf 'first\\nsecond\\nABCDEF'; echo oops >&2; exit 3"});
  std::string line;
  ASSERT_TRUE(child.read_line(line, 100));
  EXPECT_EQ(line, "first");
  ASSERT_TRUE(child.read_line(line, 100));
  EXPECT_EQ(line, "second");
  char bytes[4];
  ASSERT_TRUE(child.read_exact(bytes, 4));
  EXPECT_EQ(std::string(bytes, 4), "ABCD");
  EXPECT_FALSE(child.read_exact(bytes, 4));  // only "EF" is left
  const ChildExit end = child.wait();
  EXPECT_FALSE(end.ok());
  EXPECT_EQ(end.code, 3);
  EXPECT_EQ(end.signal, 0);
  EXPECT_EQ(end.error_output, "oops\n");
  EXPECT_EQ(end.describe(), "exit status 3");
}

TEST(ChildProcess, ReportsTheSignalThatStoppedTheChild) {
  ChildProcess child({"/bin/sh", "-c", "echo partial; kill -ABRT $$"});
  std::string line;
  ASSERT_TRUE(child.read_line(line, 100));
  EXPECT_FALSE(child.read_line(line, 100));
  const ChildExit end = child.wait();
  EXPECT_EQ(end.signal, SIGABRT);
  EXPECT_NE(end.describe().find("signal 6"), std::string::npos) << end.describe();
}

// A child that writes much to standard error before its answer must not block: standard error
// goes to a file, not to a pipe nobody reads yet.
TEST(ChildProcess, MuchErrorOutputDoesNotBlockTheAnswer) {
  ChildProcess child({"/bin/sh", "-c", "head -c 300000 /dev/zero >&2; echo answer"});
  std::string line;
  ASSERT_TRUE(child.read_line(line, 100));
  EXPECT_EQ(line, "answer");
  const ChildExit end = child.wait();
  EXPECT_TRUE(end.ok());
  EXPECT_EQ(end.error_output.size(), 64u * 1024u);  // kept up to its limit
}

TEST(ChildProcess, ALineOverTheLimitIsRefused) {
  ChildProcess child({"/usr/bin/head", "-c", "5000", "/dev/zero"});
  std::string line;
  EXPECT_FALSE(child.read_line(line, 1000));
  // The rest is never read: the child ends normally or, still writing, by SIGPIPE.
  const ChildExit end = child.wait();
  EXPECT_TRUE(end.ok() || end.signal == SIGPIPE) << end.describe();
}

TEST(ChildProcess, AChildStillRunningIsKilledWhenLeft) {
  const auto start = std::chrono::steady_clock::now();
  { ChildProcess child({"/bin/sleep", "30"}); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ChildProcess, AProgramThatCannotStartIsANamedError) {
  try {
    ChildProcess child({"/nonexistent/program"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start /nonexistent/program"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mbmd
