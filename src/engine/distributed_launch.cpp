// Local launcher for data-parallel runs (include/mbmd/engine/distributed_launch.h): fork/exec of
// N ranks with torchrun's variables, and a watchdog that ends the run after its first failure.
#include "mbmd/engine/distributed_launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "mbmd/core/error.h"

extern char** environ;

namespace mbmd::engine {

namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_forward_signal = 0;

void remember_signal(int signal_number) { g_forward_signal = signal_number; }

// Installs the forwarding handlers for SIGINT and SIGTERM while it lives.
class SignalForwarding {
 public:
  SignalForwarding() {
    g_forward_signal = 0;
    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~SignalForwarding() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string describe_exit(const RankExit& r) {
  std::ostringstream out;
  out << "rank " << r.rank << " (pid " << r.pid << ") ";
  if (r.signal != 0)
    out << "was killed by signal " << r.signal << " (" << strsignal(r.signal) << ")";
  else
    out << "exited with code " << r.exit_code;
  out << " after " << static_cast<int64_t>(r.seconds * 10) / 10.0 << " s";
  return out.str();
}

double seconds(std::chrono::milliseconds t) { return static_cast<double>(t.count()) / 1000.0; }

}  // namespace

int find_free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw Error(std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string cause = std::strerror(errno);
    close(fd);
    throw Error("cannot find a free TCP port on 127.0.0.1: " + cause);
  }
  close(fd);
  return ntohs(address.sin_port);
}

LaunchResult launch_local_workers(const LaunchOptions& options) {
  if (options.nproc < 1)
    throw Error("--nproc must be at least 1, got " + std::to_string(options.nproc));
  if (!options.log_files.empty() && options.log_files.size() != static_cast<size_t>(options.nproc))
    throw Error("launcher: " + std::to_string(options.log_files.size()) + " log files for " +
                std::to_string(options.nproc) + " ranks");
  const int port = options.master_port > 0 ? options.master_port : find_free_port();

  // Everything the children need is prepared before fork: after it only async-signal-safe calls.
  std::vector<std::string> arg_strings{options.program};
  arg_strings.insert(arg_strings.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  const std::set<std::string> replaced = {
      "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (replaced.count(key) || options.env.count(key)) continue;
    base_env.push_back(entry);
  }
  for (const auto& [key, value] : options.env) base_env.push_back(key + "=" + value);
  base_env.push_back("WORLD_SIZE=" + std::to_string(options.nproc));
  base_env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(options.nproc));
  base_env.push_back("MASTER_ADDR=" + options.master_addr);
  base_env.push_back("MASTER_PORT=" + std::to_string(port));

  if (options.verbose)
    std::cerr << "mbmd: starting " << options.nproc << " ranks (MASTER_ADDR=" << options.master_addr
              << " MASTER_PORT=" << port << ")\n";

  SignalForwarding forwarding;
  LaunchResult result;
  result.ranks.resize(options.nproc);
  std::vector<bool> running(options.nproc, false);
  std::vector<Clock::time_point> started(options.nproc);
  const pid_t launcher = getpid();

  auto terminate_all = [&](int signal_number) {
    for (int r = 0; r < options.nproc; ++r)
      if (running[r]) {
        kill(result.ranks[r].pid, signal_number);
        result.ranks[r].stopped_by_launcher = true;
      }
  };

  for (int rank = 0; rank < options.nproc; ++rank) {
    std::vector<std::string> env_strings = base_env;
    env_strings.push_back("RANK=" + std::to_string(rank));
    env_strings.push_back("LOCAL_RANK=" + std::to_string(rank));
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    int log_fd = -1;
    if (!options.log_files.empty()) {
      log_fd =
          open(options.log_files[rank].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (log_fd < 0) {
        const std::string cause = std::strerror(errno);
        terminate_all(SIGKILL);
        throw Error("launcher: cannot write the log of rank " + std::to_string(rank) + " to " +
                    options.log_files[rank] + ": " + cause);
      }
    }
    // exec failures come back through this pipe (closed by a successful exec).
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) throw Error("launcher: pipe failed");

    const pid_t pid = fork();
    if (pid < 0) {
      const std::string cause = std::strerror(errno);
      terminate_all(SIGKILL);
      throw Error("launcher: cannot start rank " + std::to_string(rank) +
                  ": fork failed: " + cause);
    }
    if (pid == 0) {
      // A rank must not outlive its launcher (killed with SIGKILL, it cannot clean up).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != launcher) _exit(127);
      if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
      }
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      execve(argv[0], argv.data(), envp.data());
      const int error = errno;
      (void)!write(status_pipe[1], &error, sizeof(error));
      _exit(127);
    }
    close(status_pipe[1]);
    if (log_fd >= 0) close(log_fd);
    int exec_error = 0;
    ssize_t got;
    do {
      got = read(status_pipe[0], &exec_error, sizeof(exec_error));
    } while (got < 0 && errno == EINTR);
    close(status_pipe[0]);
    result.ranks[rank].rank = rank;
    result.ranks[rank].pid = pid;
    started[rank] = Clock::now();
    running[rank] = true;
    if (got == static_cast<ssize_t>(sizeof(exec_error))) {
      waitpid(pid, nullptr, 0);
      running[rank] = false;
      terminate_all(SIGKILL);
      for (int r = 0; r < rank; ++r) waitpid(result.ranks[r].pid, nullptr, 0);
      throw Error("launcher: cannot run " + options.program + " for rank " + std::to_string(rank) +
                  ": " + std::strerror(exec_error));
    }
  }

  // Watch the ranks.
  int remaining = options.nproc;
  bool forwarded = false;
  bool terminated = false;
  Clock::time_point terminate_at = Clock::time_point::max();
  Clock::time_point kill_at = Clock::time_point::max();
  while (remaining > 0) {
    for (int r = 0; r < options.nproc; ++r) {
      if (!running[r]) continue;
      int status = 0;
      const pid_t done = waitpid(result.ranks[r].pid, &status, WNOHANG);
      if (done == 0 || (done < 0 && errno == EINTR)) continue;
      running[r] = false;
      --remaining;
      auto& exit = result.ranks[r];
      exit.seconds = std::chrono::duration<double>(Clock::now() - started[r]).count();
      if (done > 0 && WIFSIGNALED(status)) {
        exit.signal = WTERMSIG(status);
      } else {
        exit.exit_code = done > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 255;
      }
      const bool failed = exit.signal != 0 || exit.exit_code != 0;
      if (failed && result.first_failed_rank < 0 && !exit.stopped_by_launcher) {
        result.first_failed_rank = r;
        result.exit_code = exit.signal != 0 ? 128 + exit.signal : exit.exit_code;
        if (remaining > 0) {
          terminate_at = std::min(terminate_at, Clock::now() + options.grace);
          if (options.verbose)
            std::cerr << "mbmd: " << describe_exit(exit) << "; the other ranks get "
                      << seconds(options.grace) << " s to stop before they are terminated\n";
        }
      }
    }
    if (remaining == 0) break;
    if (g_forward_signal != 0 && !forwarded) {
      forwarded = true;
      if (options.verbose)
        std::cerr << "mbmd: passing signal " << g_forward_signal << " on to the ranks\n";
      for (int r = 0; r < options.nproc; ++r)
        if (running[r]) kill(result.ranks[r].pid, g_forward_signal);
      terminate_at = std::min(terminate_at, Clock::now() + options.grace);
    }
    const auto now = Clock::now();
    if (!terminated && now >= terminate_at) {
      terminated = true;
      if (options.verbose)
        std::cerr << "mbmd: terminating the " << remaining << " rank(s) still running\n";
      terminate_all(SIGTERM);
      kill_at = now + options.kill_after;
    }
    if (terminated && now >= kill_at) {
      terminate_all(SIGKILL);
      kill_at = Clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  if (result.first_failed_rank < 0) {
    if (g_forward_signal != 0) {
      result.exit_code = 128 + g_forward_signal;
      result.message = "the run was interrupted by signal " + std::to_string(g_forward_signal);
    }
    return result;
  }
  std::ostringstream message;
  message << "distributed run failed: " << describe_exit(result.ranks[result.first_failed_rank]);
  std::vector<std::string> by_themselves, by_launcher;
  for (const auto& r : result.ranks) {
    if (r.rank == result.first_failed_rank) continue;
    (r.stopped_by_launcher ? by_launcher : by_themselves).push_back(describe_exit(r));
  }
  for (const auto& text : by_themselves) message << "; " << text;
  for (const auto& text : by_launcher)
    message << "; " << text << ", terminated by the launcher after the " << seconds(options.grace)
            << " s grace period";
  message << ". The last checkpoint is whole: continue the run with --resume";
  result.message = message.str();
  return result;
}

}  // namespace mbmd::engine
