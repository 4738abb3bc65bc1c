// Local launcher for data-parallel runs (include/mbmd/dist/launch.h): fork/exec of
// N ranks with torchrun's variables, and a watchdog that ends the run after its first failure.
#include "mbmd/dist/launch.h"

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

namespace {

// The program's argv, with the strings it points into.
struct Argv {
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

void point_at(Argv& a) {
  a.pointers.clear();
  for (auto& s : a.strings) a.pointers.push_back(s.data());
  a.pointers.push_back(nullptr);
}

// This process's environment without torchrun's variables, plus options.env and the variables
// every rank shares (RANK and LOCAL_RANK are added per rank).
std::vector<std::string> shared_environment(const LaunchOptions& options, int port) {
  const std::set<std::string> replaced = {
      "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (replaced.count(key) || options.env.count(key)) continue;
    env.push_back(entry);
  }
  for (const auto& [key, value] : options.env) env.push_back(key + "=" + value);
  env.push_back("WORLD_SIZE=" + std::to_string(options.nproc));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(options.nproc));
  env.push_back("MASTER_ADDR=" + options.master_addr);
  env.push_back("MASTER_PORT=" + std::to_string(port));
  return env;
}

// Starts the ranks and watches them: the first failure gives the others `grace` to stop, then
// SIGTERM, then SIGKILL; SIGINT and SIGTERM received meanwhile are passed on to them.
class LocalLauncher {
 public:
  explicit LocalLauncher(const LaunchOptions& options)
      : options_(options), running_(options.nproc, false), started_(options.nproc) {
    result_.ranks.resize(options.nproc);
  }

  LaunchResult run(int port) {
    argv_.strings = {options_.program};
    argv_.strings.insert(argv_.strings.end(), options_.args.begin(), options_.args.end());
    point_at(argv_);
    shared_env_ = shared_environment(options_, port);
    if (options_.verbose)
      std::cerr << "mbmd: starting " << options_.nproc
                << " ranks (MASTER_ADDR=" << options_.master_addr << " MASTER_PORT=" << port
                << ")\n";
    SignalForwarding forwarding;
    for (int rank = 0; rank < options_.nproc; ++rank) start_rank(rank);
    watch();
    if (result_.first_failed_rank >= 0) {
      result_.message = failure_message();
    } else if (g_forward_signal != 0) {
      result_.exit_code = 128 + g_forward_signal;
      result_.message = "the run was interrupted by signal " + std::to_string(g_forward_signal);
    }
    return result_;
  }

 private:
  void terminate_all(int signal_number) {
    for (int r = 0; r < options_.nproc; ++r)
      if (running_[r]) {
        kill(result_.ranks[r].pid, signal_number);
        result_.ranks[r].stopped_by_launcher = true;
      }
  }

  int open_log(int rank) {
    if (options_.log_files.empty()) return -1;
    const int fd =
        open(options_.log_files[rank].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      const std::string cause = std::strerror(errno);
      terminate_all(SIGKILL);
      throw Error("launcher: cannot write the log of rank " + std::to_string(rank) + " to " +
                  options_.log_files[rank] + ": " + cause);
    }
    return fd;
  }

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  void start_rank(int rank) {
    Argv env;
    env.strings = shared_env_;
    env.strings.push_back("RANK=" + std::to_string(rank));
    env.strings.push_back("LOCAL_RANK=" + std::to_string(rank));
    point_at(env);
    const int log_fd = open_log(rank);
    // exec failures come back through this pipe (closed by a successful exec).
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) throw Error("launcher: pipe failed");
    const pid_t launcher = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string cause = std::strerror(errno);
      terminate_all(SIGKILL);
      throw Error("launcher: cannot start rank " + std::to_string(rank) +
                  ": fork failed: " + cause);
    }
    if (pid == 0) exec_rank(launcher, log_fd, status_pipe[1], env);
    close(status_pipe[1]);
    if (log_fd >= 0) close(log_fd);
    result_.ranks[rank].rank = rank;
    result_.ranks[rank].pid = pid;
    started_[rank] = Clock::now();
    running_[rank] = true;
    check_exec(rank, status_pipe[0]);
  }

  [[noreturn]] void exec_rank(pid_t launcher, int log_fd, int status_fd, Argv& env) {
    // A rank must not outlive its launcher (killed with SIGKILL, it cannot clean up).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != launcher) _exit(127);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execve(argv_.pointers[0], argv_.pointers.data(), env.pointers.data());
    const int error = errno;
    (void)!write(status_fd, &error, sizeof(error));
    _exit(127);
  }

  void check_exec(int rank, int status_fd) {
    int exec_error = 0;
    ssize_t got;
    do {
      got = read(status_fd, &exec_error, sizeof(exec_error));
    } while (got < 0 && errno == EINTR);
    close(status_fd);
    if (got != static_cast<ssize_t>(sizeof(exec_error))) return;
    waitpid(result_.ranks[rank].pid, nullptr, 0);
    running_[rank] = false;
    terminate_all(SIGKILL);
    for (int r = 0; r < rank; ++r) waitpid(result_.ranks[r].pid, nullptr, 0);
    throw Error("launcher: cannot run " + options_.program + " for rank " + std::to_string(rank) +
                ": " + std::strerror(exec_error));
  }

  void watch() {
    remaining_ = options_.nproc;
    while (remaining_ > 0) {
      for (int r = 0; r < options_.nproc; ++r) reap(r);
      if (remaining_ == 0) break;
      forward_signal();
      escalate();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Records rank r's end if it has ended; its failure, when first, starts the grace period.
  void reap(int r) {
    if (!running_[r]) return;
    int status = 0;
    const pid_t done = waitpid(result_.ranks[r].pid, &status, WNOHANG);
    if (done == 0 || (done < 0 && errno == EINTR)) return;
    running_[r] = false;
    --remaining_;
    auto& exit = result_.ranks[r];
    exit.seconds = std::chrono::duration<double>(Clock::now() - started_[r]).count();
    if (done > 0 && WIFSIGNALED(status))
      exit.signal = WTERMSIG(status);
    else
      exit.exit_code = done > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    const bool failed = exit.signal != 0 || exit.exit_code != 0;
    if (!failed || result_.first_failed_rank >= 0 || exit.stopped_by_launcher) return;
    result_.first_failed_rank = r;
    result_.exit_code = exit.signal != 0 ? 128 + exit.signal : exit.exit_code;
    if (remaining_ == 0) return;
    terminate_at_ = std::min(terminate_at_, Clock::now() + options_.grace);
    if (options_.verbose)
      std::cerr << "mbmd: " << describe_exit(exit) << "; the other ranks get "
                << seconds(options_.grace) << " s to stop before they are terminated\n";
  }

  void forward_signal() {
    if (g_forward_signal == 0 || forwarded_) return;
    forwarded_ = true;
    if (options_.verbose)
      std::cerr << "mbmd: passing signal " << g_forward_signal << " on to the ranks\n";
    for (int r = 0; r < options_.nproc; ++r)
      if (running_[r]) kill(result_.ranks[r].pid, g_forward_signal);
    terminate_at_ = std::min(terminate_at_, Clock::now() + options_.grace);
  }

  void escalate() {
    const auto now = Clock::now();
    if (!terminated_ && now >= terminate_at_) {
      terminated_ = true;
      if (options_.verbose)
        std::cerr << "mbmd: terminating the " << remaining_ << " rank(s) still running\n";
      terminate_all(SIGTERM);
      kill_at_ = now + options_.kill_after;
    }
    if (terminated_ && now >= kill_at_) {
      terminate_all(SIGKILL);
      kill_at_ = Clock::time_point::max();
    }
  }

  std::string failure_message() const {
    std::ostringstream message;
    message << "distributed run failed: "
            << describe_exit(result_.ranks[result_.first_failed_rank]);
    std::vector<std::string> by_themselves, by_launcher;
    for (const auto& r : result_.ranks) {
      if (r.rank == result_.first_failed_rank) continue;
      (r.stopped_by_launcher ? by_launcher : by_themselves).push_back(describe_exit(r));
    }
    for (const auto& text : by_themselves) message << "; " << text;
    for (const auto& text : by_launcher)
      message << "; " << text << ", terminated by the launcher after the "
              << seconds(options_.grace) << " s grace period";
    message << ". The last checkpoint is whole: continue the run with --resume";
    return message.str();
  }

  const LaunchOptions& options_;
  LaunchResult result_;
  std::vector<bool> running_;
  std::vector<Clock::time_point> started_;
  Argv argv_;
  std::vector<std::string> shared_env_;
  int remaining_ = 0;
  bool forwarded_ = false;
  bool terminated_ = false;
  Clock::time_point terminate_at_ = Clock::time_point::max();
  Clock::time_point kill_at_ = Clock::time_point::max();
};

}  // namespace

LaunchResult launch_local_workers(const LaunchOptions& options) {
  if (options.nproc < 1)
    throw Error("--nproc must be at least 1, got " + std::to_string(options.nproc));
  if (!options.log_files.empty() && options.log_files.size() != static_cast<size_t>(options.nproc))
    throw Error("launcher: " + std::to_string(options.log_files.size()) + " log files for " +
                std::to_string(options.nproc) + " ranks");
  const int port = options.master_port > 0 ? options.master_port : find_free_port();
  LocalLauncher launcher(options);
  return launcher.run(port);
}

}  // namespace mbmd::engine
