#pragma once
/// A CLI subcommand: its name, help text, accepted flags and entry point. Each command lives in
/// its own file in tools/commands/ and exposes one `Command <name>_command()`; main.cpp lists
/// them in its command table (the only place a new command is added).
#include <functional>
#include <string>
#include <vector>

#include "tools/cli/args.h"

namespace backlight::cli {

struct Command {
  std::string name{};         ///< "explain"
  std::string summary{};      ///< one line for `backlight --help`
  std::string description{};  ///< paragraphs for `backlight <name> --help` (may be empty)
  std::vector<FlagSpec> flags{};
  /// Runs the command; returns the exit status. Throws UsageError (exit 2) for bad arguments
  /// and backlight::Error / std::exception (exit 1) for failures.
  std::function<int(const Args&)> run{};
};

Command info_command();     // info.cpp
Command explain_command();  // explain.cpp
Command train_command();    // train.cpp
Command evaluate_command();  // evaluate.cpp
Command methods_command();   // listings.cpp
Command rules_command();     // listings.cpp
Command models_command();    // listings.cpp
Command layers_command();    // layers.cpp
Command attack_command();    // attack.cpp
Command similarity_command();  // similarity.cpp
Command dissect_command();     // dissect.cpp
Command visualize_command();   // visualize.cpp
Command counterfactual_command();  // counterfactual.cpp
Command tcav_command();        // tcav.cpp
Command influence_command();  // influence.cpp
Command sanity_command();      // sanity.cpp
Command roar_command();        // roar.cpp

}  // namespace backlight::cli
