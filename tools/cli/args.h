#pragma once
/// A tiny command-line flag parser for the backlight CLI.
///
/// Each command declares its flags as a table of FlagSpec; parse_args() checks argv against it:
///   --name value     --name=value     (value flags)
///   --name                            (boolean flags; --name=true|false|1|0 also accepted)
///   repeated flags keep every value in order (get_all), others may appear once.
/// Words that do not start with "--" are positional arguments. "--" ends flag parsing.
/// Every problem (unknown flag, missing value, wrong type) throws UsageError naming the flag and
/// the expected form; main() turns UsageError into exit status 2.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

/// The command line was malformed (exit status 2), as opposed to a failure while running.
class UsageError : public Error {
 public:
  using Error::Error;
};

enum class FlagKind { Value, Bool };

/// One accepted flag.
struct FlagSpec {
  // Every member has a default, so designated initialisers may name only what they set.
  std::string name{};                ///< without dashes: "image"
  FlagKind kind = FlagKind::Value;
  std::string metavar{};             ///< value placeholder in help: "FILE", "N"; empty for Bool
  std::string help{};                ///< one line
  bool repeated = false;             ///< may be given several times (values collected in order)
};

/// The parsed command line of one command. Getters throw UsageError naming the flag.
class Args {
 public:
  Args(std::string command, std::vector<FlagSpec> specs) : command_(std::move(command)), specs_(std::move(specs)) {}

  /// Whether the flag was given (any kind).
  bool has(std::string_view name) const;
  /// A boolean flag: true when given (or given =true).
  bool flag(std::string_view name) const;
  /// The value of a value flag, or nullopt when absent.
  std::optional<std::string> get(std::string_view name) const;
  /// The value, or `fallback` when absent.
  std::string get_or(std::string_view name, std::string_view fallback) const;
  /// Every value of a repeated flag, in command-line order (empty when absent).
  std::vector<std::string> get_all(std::string_view name) const;
  /// Typed getters: nullopt when absent; UsageError "--steps expects an integer (--steps N), got 'x'".
  std::optional<int64_t> get_int(std::string_view name) const;
  std::optional<double> get_double(std::string_view name) const;

  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& command() const { return command_; }
  std::span<const FlagSpec> specs() const { return specs_; }

 private:
  friend Args parse_args(std::string command, std::span<const std::string> argv, std::vector<FlagSpec> specs);
  const FlagSpec& spec(std::string_view name) const;  // throws std::logic_error: a programming error
  std::string form(const FlagSpec& s) const;           // "--steps N"
  std::string command_;
  std::vector<FlagSpec> specs_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

/// Parses `argv` (the words after the command name) against `specs`. `command` names the
/// command in error messages ("explain").
Args parse_args(std::string command, std::span<const std::string> argv, std::vector<FlagSpec> specs);

/// Help lines for a flag table, one per flag, aligned: "  --image FILE    input image ...".
std::string format_flags(std::span<const FlagSpec> specs);

/// "--image, --out, --save" (for "accepted: ..." messages).
std::string flag_names(std::span<const FlagSpec> specs);

}  // namespace backlight::cli
