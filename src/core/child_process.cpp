#include "mbmd/core/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mbmd/core/error.h"

extern char** environ;

namespace mbmd {
namespace {

constexpr size_t kMaxErrorOutput = 64 * 1024;

std::string read_error_output(int fd) {
  std::string text;
  if (fd < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return text;
  char chunk[4096];
  while (text.size() < kMaxErrorOutput) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  return text.substr(0, kMaxErrorOutput);
}

// The actions that give the child its standard streams.
struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions(int out_fd, int err_fd) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
};

}  // namespace

std::string ChildExit::describe() const {
  if (signal != 0) return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit status " + std::to_string(code);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("ChildProcess: no program given");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw Error("cannot start " + argv[0] + ": pipe: " + std::strerror(errno));
  // Standard error goes to an anonymous file, so that the child never blocks on it while the
  // caller is reading standard output.
  err_fd_ = ::memfd_create("mbmd-child-stderr", MFD_CLOEXEC);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = err_fd_ < 0 ? errno : 0;
  if (rc == 0) {
    SpawnActions actions(pipe_fds[1], err_fd_);
    rc = posix_spawn(&pid_, args[0], &actions.actions, nullptr, args.data(), environ);
  }
  ::close(pipe_fds[1]);
  out_fd_ = pipe_fds[0];
  if (rc != 0) {
    pid_ = -1;
    throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

size_t ChildProcess::read_some(char* data, size_t size) {
  if (out_fd_ < 0) return 0;
  for (;;) {
    const ssize_t n = ::read(out_fd_, data, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return 0;
  }
}

bool ChildProcess::read_line(std::string& line, size_t max_bytes) {
  char chunk[65536];
  for (;;) {
    const size_t end = pending_.find('\n');
    if (end != std::string::npos) {
      line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return true;
    }
    if (pending_.size() > max_bytes) return false;
    const size_t n = read_some(chunk, sizeof chunk);
    if (n == 0) return false;
    pending_.append(chunk, n);
  }
}

bool ChildProcess::read_exact(char* data, size_t size) {
  const size_t buffered = std::min(size, pending_.size());
  std::memcpy(data, pending_.data(), buffered);
  pending_.erase(0, buffered);
  for (size_t done = buffered; done < size;) {
    const size_t n = read_some(data + done, size - done);
    if (n == 0) return false;
    done += n;
  }
  return true;
}

ChildExit ChildProcess::wait() {
  if (out_fd_ >= 0) ::close(out_fd_);
  out_fd_ = -1;
  ChildExit result;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
  }
  pid_ = -1;
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  result.error_output = read_error_output(err_fd_);
  return result;
}

}  // namespace mbmd
