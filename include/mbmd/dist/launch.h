// The local launcher behind `mbmd train --nproc N` (docs/distributed.md): starts N copies of a
// program as the ranks of one run on this machine, with torchrun's variables (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT) set, waits for all of them, and when one fails (non-zero
// exit, killed by a signal) gives the others a grace period to stop on their own (a peer that
// died breaks their collectives at once; one that hangs, after their collective timeout) and
// then terminates whatever is left, so the run never outlives its first failure by more than the
// grace period.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace mbmd::engine {

struct LaunchOptions {
  std::string program = "/proc/self/exe";  // the executable each rank runs
  std::vector<std::string> args;           // its arguments (argv[1..])
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: a free port on this machine, chosen by the launcher
  // After the first rank fails: how long the others may take to stop by themselves before they
  // get SIGTERM, and after that SIGKILL once `kill_after` more has passed.
  std::chrono::milliseconds grace{std::chrono::seconds(30)};
  std::chrono::milliseconds kill_after{std::chrono::seconds(5)};
  // Optional: one file per rank that receives its stdout and stderr (empty: inherited).
  std::vector<std::string> log_files;
  // Extra environment for every rank (on top of this process's and the torchrun variables).
  std::map<std::string, std::string> env;
  bool verbose = true;  // say on stderr when ranks start and fail
};

struct RankExit {
  int rank = 0;
  pid_t pid = 0;
  int exit_code = -1;                // the exit status, -1 when killed by a signal
  int signal = 0;                    // the signal that ended it, 0 when it exited
  bool stopped_by_launcher = false;  // it got SIGTERM/SIGKILL from the launcher
  double seconds = 0.0;              // from start to end
};

struct LaunchResult {
  int exit_code = 0;  // 0 when every rank exited 0; else the first failure's code (signal: 128+n)
  int first_failed_rank = -1;
  std::vector<RankExit> ranks;
  std::string message;  // what went wrong, for the user; empty on success
};

// Starts the ranks and waits for all of them. SIGINT or SIGTERM sent to the launcher while it
// waits is passed on to every rank. Throws mbmd::Error when a rank cannot be started.
LaunchResult launch_local_workers(const LaunchOptions& options);

// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0 and released).
int find_free_port();

}  // namespace mbmd::engine
