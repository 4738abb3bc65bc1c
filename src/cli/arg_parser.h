// A small option parser shared by the commands: `--name value`, `--name=value`, flags, repeated
// options and positional arguments, with a generated help text. Unknown options are errors.
#pragma once

#include <cstdint>
#include <functional>
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

  // Binds the option declared last to a variable: parse() stores its value there when it is
  // given or has a default (a number that does not parse is an mbmd::Error naming the option),
  // and leaves the variable as it is otherwise. A flag bound to a bool sets it to true when
  // given; a repeated option bound to a list stores every occurrence.
  ArgParser& to(std::string* target);
  ArgParser& to(int* target);
  ArgParser& to(int64_t* target);
  ArgParser& to(double* target);
  ArgParser& to(bool* target);
  ArgParser& to(std::vector<std::string>* target);

  // The options of every command that builds a model from a config, bound: --set key=value
  // (repeated) to `overrides` and --threads N to `threads` (left as it is when not given).
  ArgParser& config_overrides(std::vector<std::string>* overrides, int* threads);

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
    std::function<void(const ArgParser&, const std::string&)> store;  // set by to()
  };
  ArgParser& bind_last(std::function<void(const ArgParser&, const std::string&)> store);
  void store_bound() const;
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
