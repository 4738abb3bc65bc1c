// A helper program run as a child process whose standard output the caller reads as a stream,
// and whose end (exit status or the signal that stopped it) and standard error are reported
// after. It is started with posix_spawn, not fork: forking a process whose OpenMP threads are
// running can leave the child waiting for a lock forever.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace mbmd {

struct ChildExit {
  int code = -1;             // the exit status, or -1 when a signal stopped the child
  int signal = 0;            // the signal that stopped it, or 0
  std::string error_output;  // what it wrote to standard error (at most 64 KiB)

  bool ok() const { return signal == 0 && code == 0; }
  // "exit status 3" or "signal 6 (Aborted)".
  std::string describe() const;
};

class ChildProcess {
 public:
  // argv[0] is the program's path. Standard input is /dev/null. Throws mbmd::Error naming the
  // program when it cannot be started.
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();  // a child still running is killed and reaped
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads one line of standard output (without its '\n'); false at the end of the output or
  // when the line would be longer than max_bytes.
  bool read_line(std::string& line, size_t max_bytes);
  // Reads exactly `size` bytes; false when the output ends before.
  bool read_exact(char* data, size_t size);
  // Closes standard output (a child still writing gets SIGPIPE) and waits for the child.
  ChildExit wait();

 private:
  size_t read_some(char* data, size_t size);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string pending_;  // bytes read past the last line
};

}  // namespace mbmd
