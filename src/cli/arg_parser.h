// A small option parser shared by the commands: `--name value`, `--name=value`, flags, repeated
// options and positional arguments, with a generated help text. Unknown options are errors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "command.h"

namespace mbmd::cli {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  // An option that takes a value; `repeated` options collect every occurrence.
  ArgParser& option(const std::string& name, const std::string& help,
                    std::string default_value = "", bool repeated = false);
  ArgParser& flag(const std::string& name, const std::string& help);
  ArgParser& positional(const std::string& name, const std::string& help, bool many = false);

  // Returns false when --help was given (the help is printed); throws mbmd::Error on bad usage.
  bool parse(const Args& args);

  std::string get(const std::string& name) const;
  std::optional<std::string> get_if(const std::string& name) const;
  std::vector<std::string> get_all(const std::string& name) const;
  bool has(const std::string& name) const;  // flag given, or option given explicitly
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

  std::string help() const;

 private:
  struct Spec {
    std::string help;
    std::string default_value;
    bool takes_value = true;
    bool repeated = false;
  };
  std::string command_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::vector<std::pair<std::string, std::string>> positional_specs_;
  bool positional_many_ = false;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

}  // namespace mbmd::cli
