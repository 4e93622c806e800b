// backlight command-line entry point: picks the subcommand, parses its flags and turns
// exceptions into exit statuses (0 ok, 1 runtime error, 2 usage error). The only place in the
// CLI that prints errors or decides an exit status.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/error.h"
#include "tools/cli/args.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/command.h"

namespace backlight::cli {

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

/// Every command, in help order.
const std::vector<Command>& command_table() {
  static const std::vector<Command> table = {info_command(),    explain_command(), train_command(), evaluate_command(),
                                              methods_command(), rules_command(),   models_command(),  layers_command(),
                                              attack_command(),    similarity_command(),
                                              dissect_command(),   visualize_command(), counterfactual_command(),
                                              tcav_command(),      influence_command(), sanity_command(),
                                              roar_command()};
  return table;
}

std::string command_names() {
  std::string s;
  for (const Command& c : command_table()) s += (s.empty() ? "" : ", ") + c.name;
  return s;
}

std::string usage() {
  std::string s =
      "backlight " BACKLIGHT_VERSION " - attribution maps for neural networks\n\n"
      "usage: backlight <command> [flags]\n"
      "       backlight <command> --help\n\n"
      "commands:\n";
  size_t width = 0;
  for (const Command& c : command_table()) width = std::max(width, c.name.size());
  for (const Command& c : command_table())
    s += "  " + c.name + std::string(width - c.name.size() + 3, ' ') + c.summary + "\n";
  s += "\nglobal flags:\n  --help      show this help\n  --version   print the version\n";
  return s;
}

std::string command_help(const Command& c, std::span<const FlagSpec> flags) {
  std::string s = "usage: backlight " + c.name + " [flags]\n\n" + c.summary + "\n";
  if (!c.description.empty()) s += "\n" + c.description + "\n";
  s += "\nflags:\n" + format_flags(flags);
  return s;
}

int dispatch(const std::vector<std::string>& words) {
  if (words.empty()) {
    std::cerr << usage();
    return kExitUsage;
  }
  const std::string& first = words[0];
  if (first == "--help" || first == "-h" || (first == "help" && words.size() == 1)) {
    std::cout << usage();
    return 0;
  }
  if (first == "--version") {
    std::cout << "backlight " BACKLIGHT_VERSION "\n";
    return 0;
  }
  if (!first.empty() && first[0] == '-')
    throw UsageError("unknown flag '" + first + "'; accepted before a command: --help, --version; commands: " +
                     command_names());
  // "backlight help explain" == "backlight explain --help"
  const bool help_word = first == "help";
  const std::string& name = help_word ? words[1] : first;
  for (const Command& c : command_table()) {
    if (c.name != name) continue;
    std::vector<FlagSpec> flags = c.flags;
    flags.push_back({.name = "help", .kind = FlagKind::Bool, .help = "show this help"});
    const std::vector<std::string> rest(words.begin() + (help_word ? 2 : 1), words.end());
    const Args args = parse_args(c.name, rest, flags);
    if (help_word || args.flag("help")) {
      std::cout << command_help(c, flags);
      return 0;
    }
    // Under mpirun/srun every process runs this command: only commands that share their work
    // across processes may (docs/cluster.md); the others would repeat the whole job per process.
    static const std::vector<std::string> distributed = {"explain", "info",      "evaluate", "similarity",
                                                         "dissect", "tcav",      "influence", "sanity",
                                                         "roar"};
    if (launched_size() > 1 && std::find(distributed.begin(), distributed.end(), c.name) == distributed.end())
      throw UsageError(c.name + ": started as " + std::to_string(launched_size()) +
                       " MPI processes, but it does not share its work across processes (distributed: explain "
                       "--images, evaluate, similarity, dissect, tcav, influence, sanity, roar); run `" + c.name +
                       "` as one process (docs/cluster.md)");
    if (!args.positional().empty())
      throw UsageError(c.name + ": unexpected argument '" + args.positional()[0] + "' (flags start with --; accepted: " +
                       flag_names(c.flags) + ")");
    return c.run(args);
  }
  throw UsageError("unknown command '" + name + "'; accepted: " + command_names());
}

}  // namespace
}  // namespace backlight::cli

int main(int argc, char** argv) {
  using namespace backlight::cli;
  // libgomp busy-waits at the end of every parallel region unless OMP_WAIT_POLICY=passive; on a
  // machine with more runnable threads than cores the spinning thread starves the one still
  // working, and each of the many small regions of a forward+backward costs a time slice: PGD-20
  // on resnet18 with 2 threads took 78 s instead of 9 s at load 24 (bench/README.md, "PGD").
  // libgomp reads the variable once when it is loaded, before main, so the CLI sets it and
  // re-executes itself once; an explicit OMP_WAIT_POLICY (any value) is left alone.
  if (!std::getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
    execv("/proc/self/exe", argv);  // returns only on failure: then run as we are

  const std::vector<std::string> words(argv + 1, argv + argc);
  // A write past a file-size limit (ulimit -f) then fails with EFBIG, reported like any other
  // write error, instead of killing the process with SIGXFSZ halfway through an output.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return dispatch(words);
  } catch (const UsageError& e) {
    std::cerr << "backlight: " << e.what() << "\n(run 'backlight --help' or 'backlight <command> --help')\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {  // library allocations report themselves; this is the rest
    std::cerr << "backlight: error: out of memory (lower --batch, --steps, --samples, the image size or the number "
                 "of images)\n";
    return kExitError;
  } catch (const std::exception& e) {  // backlight::Error and everything else
    std::cerr << "backlight: error: " << e.what() << "\n";
    return kExitError;
  }
}
