// Runs the built `mbmd` program for the command tests and collects its exit status and output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "mbmd_paths.h"

namespace mbmd::testing {

struct ProgramRun {
  int status = -1;     // exit status; -1 when the program did not exit normally
  std::string output;  // stdout, with stderr unless the caller asked for stdout alone
};

// With merge_stderr false, stderr is dropped, so that output holds what the program printed for
// machines (JSON) and nothing else.
// Runs a shell command line and collects its status and output (stderr redirected by the caller).
inline ProgramRun run_command(const std::string& command) {
  ProgramRun result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline ProgramRun run_mbmd(const std::string& args, bool merge_stderr = true) {
  return run_command(std::string("'") + MBMD_BINARY + "' " + args +
                     (merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace mbmd::testing
