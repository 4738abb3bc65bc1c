#include "arg_parser.h"

#include <iostream>
#include <sstream>

#include "mbmd/core/error.h"

namespace mbmd::cli {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

ArgParser& ArgParser::option(const std::string& name, const std::string& help,
                             std::string default_value, bool repeated) {
  order_.push_back(name);
  specs_[name] = Spec{help, std::move(default_value), true, repeated, nullptr};
  return *this;
}

ArgParser& ArgParser::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = Spec{help, "", false, false, nullptr};
  return *this;
}

ArgParser& ArgParser::positional(const std::string& name, const std::string& help, bool many) {
  positional_specs_.emplace_back(name, help);
  positional_many_ = many;
  return *this;
}

ArgParser& ArgParser::bind_last(std::function<void(const ArgParser&, const std::string&)> store) {
  if (order_.empty()) throw std::logic_error("ArgParser::to: no option declared before it");
  specs_.at(order_.back()).store = std::move(store);
  return *this;
}

ArgParser& ArgParser::to(std::string* target) {
  return bind_last([target](const ArgParser& p, const std::string& n) { *target = p.get(n); });
}

ArgParser& ArgParser::to(int* target) {
  return bind_last([target](const ArgParser& p, const std::string& n) { *target = p.get_int(n); });
}

ArgParser& ArgParser::to(int64_t* target) {
  return bind_last([target](const ArgParser& p, const std::string& n) { *target = p.get_int(n); });
}

ArgParser& ArgParser::to(double* target) {
  return bind_last(
      [target](const ArgParser& p, const std::string& n) { *target = p.get_double(n); });
}

ArgParser& ArgParser::to(bool* target) {
  return bind_last([target](const ArgParser& p, const std::string& n) { *target = p.has(n); });
}

ArgParser& ArgParser::to(std::vector<std::string>* target) {
  return bind_last([target](const ArgParser& p, const std::string& n) { *target = p.get_all(n); });
}

ArgParser& ArgParser::config_overrides(std::vector<std::string>* overrides, int* threads) {
  return option("set", "override a config key: key=value", "", true)
      .to(overrides)
      .option("threads", "intra-op threads (0: all cores; default runtime.threads)")
      .to(threads);
}

void ArgParser::store_bound() const {
  for (const auto& name : order_) {
    const Spec& spec = specs_.at(name);
    if (spec.store && (has(name) || !spec.default_value.empty() || !spec.takes_value))
      spec.store(*this, name);
  }
}

bool ArgParser::parse(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help();
      return false;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const auto spec = specs_.find(name);
    if (spec == specs_.end())
      throw Error("unknown option --" + name + " (see mbmd " + command_ + " --help)");
    if (!spec->second.takes_value) {
      if (value) throw Error("option --" + name + " takes no value");
      values_[name].push_back("true");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) throw Error("option --" + name + " needs a value");
      value = args[++i];
    }
    auto& slot = values_[name];
    if (!spec->second.repeated) slot.clear();
    slot.push_back(*value);
  }
  if (!positional_many_ && positionals_.size() > positional_specs_.size())
    throw Error("unexpected argument '" + positionals_[positional_specs_.size()] + "' (see mbmd " +
                command_ + " --help)");
  store_bound();
  return true;
}

std::string ArgParser::get(const std::string& name) const {
  const auto found = values_.find(name);
  if (found != values_.end() && !found->second.empty()) return found->second.back();
  const auto spec = specs_.find(name);
  return spec == specs_.end() ? "" : spec->second.default_value;
}

std::optional<std::string> ArgParser::get_if(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return get(name);
}

std::vector<std::string> ArgParser::get_all(const std::string& name) const {
  const auto found = values_.find(name);
  return found == values_.end() ? std::vector<std::string>{} : found->second;
}

bool ArgParser::has(const std::string& name) const { return values_.count(name) > 0; }

namespace {

// `text` whole as a number by `convert` (std::stoi, std::stod); mbmd::Error naming the option
// and `kind` ("an integer", "a number") otherwise.
template <typename Convert>
auto parse_option_number(const std::string& name, const std::string& text, const char* kind,
                         Convert convert) {
  try {
    size_t used = 0;
    const auto value = convert(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw Error("option --" + name + ": expected " + kind + ", got '" + text + "'");
}

}  // namespace

int ArgParser::get_int(const std::string& name) const {
  return parse_option_number(name, get(name), "an integer",
                             [](const std::string& t, size_t* used) { return std::stoi(t, used); });
}

double ArgParser::get_double(const std::string& name) const {
  return parse_option_number(name, get(name), "a number",
                             [](const std::string& t, size_t* used) { return std::stod(t, used); });
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "usage: mbmd " << command_ << " [options]";
  for (const auto& [name, text] : positional_specs_)
    out << " " << name << (positional_many_ ? "..." : "");
  out << "\n\n" << summary_ << "\n";
  if (!positional_specs_.empty()) {
    out << "\narguments:\n";
    for (const auto& [name, text] : positional_specs_)
      out << "  " << name << "\n      " << text << "\n";
  }
  out << "\noptions:\n";
  for (const auto& name : order_) {
    const Spec& spec = specs_.at(name);
    out << "  --" << name << (spec.takes_value ? " VALUE" : "") << "\n      " << spec.help;
    if (!spec.default_value.empty()) out << " (default: " << spec.default_value << ")";
    if (spec.repeated) out << " (repeatable)";
    out << "\n";
  }
  out << "  --help\n      show this text\n";
  return out.str();
}

}  // namespace mbmd::cli
