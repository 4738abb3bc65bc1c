// The `mbmd` program: dispatches to one command per file in this folder.
#include <iostream>
#include <string>
#include <vector>

#include "command.h"
#include "mbmd/core/build_info.h"
#include "mbmd/core/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const mbmd::cli::Args&);
  const char* summary;
};

// One line per command; keep them in the order a user meets them.
const Command kCommands[] = {
    {"train", mbmd::cli::train_command, "train a detector from a config into a work dir"},
    {"predict", mbmd::cli::predict_command, "detections on DICOM, PNG or PGM images as COCO json"},
    {"stats", mbmd::cli::stats_command, "parameters and GFLOPs of a config"},
    {"convert", mbmd::cli::convert_command, "dataset as distributed -> COCO json (and PNGs)"},
    {"eval", mbmd::cli::eval_command, "AP, TPR, FPPI and FROC of detections against ground truth"},
    {"cv", mbmd::cli::cv_command, "the paper's five-fold cross-validation, mean (std) summary"},
    {"compare", mbmd::cli::compare_command, "B - A of two results on the same patients, with CIs"},
    {"demo", mbmd::cli::demo_command, "phantom data, train, evaluate, predict, report.html"},
};

void print_usage(std::ostream& out) {
  out << "usage: mbmd <command> [options]\n\ncommands:\n";
  for (const auto& c : kCommands)
    out << "  " << c.name << std::string(12 - std::string(c.name).size(), ' ') << c.summary << "\n";
  out << "\n`mbmd <command> --help` describes a command's options; `mbmd --version` says which\n"
         "mbmd this is, its LibTorch, device and CPU features.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::cout << mbmd::build_info();
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(mbmd::cli::Args(argv + 2, argv + argc));
    } catch (const mbmd::Error& e) {
      std::cerr << "mbmd " << name << ": error: " << e.what() << "\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "mbmd " << name << ": internal error: " << e.what() << "\n";
      return 3;
    }
  }
  std::cerr << "mbmd: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return 2;
}
