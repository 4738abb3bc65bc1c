// Every `mbmd` command is a function taking its own arguments (without the command name) and
// returning the exit status. main.cpp keeps the table of commands.
#pragma once

#include <string>
#include <vector>

namespace mbmd::cli {

using Args = std::vector<std::string>;

int stats_command(const Args& args);
int train_command(const Args& args);
int predict_command(const Args& args);
int convert_command(const Args& args);
int eval_command(const Args& args);
int compare_command(const Args& args);
int cv_command(const Args& args);
int demo_command(const Args& args);

}  // namespace mbmd::cli
