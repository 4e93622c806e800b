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
  /// An integer flag in [lo, hi] (parse_int below), or nullopt when absent. Every integer flag of
  /// every command goes through here: out-of-range values are usage errors, never wrapped or clamped.
  std::optional<int64_t> get_int(std::string_view name, int64_t lo, int64_t hi) const;
  /// A finite number; nullopt when absent; UsageError "--stdev expects a number (--stdev X), got 'x'".
  std::optional<double> get_double(std::string_view name) const;
  /// A non-empty list flag split at `sep` (split_list below), or nullopt when absent.
  std::optional<std::vector<std::string>> get_list(std::string_view name, char sep = ',') const;

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

/// The whole of `text` as a decimal integer in [lo, hi] (an optional leading '-', digits, nothing
/// else). Anything else - empty, trailing characters, a value beyond int64 or outside [lo, hi] -
/// throws UsageError "<what> expects an integer in [lo, hi], got '<text>'" (`what` names the flag:
/// "explain: --steps"). The one integer parser of the CLI.
int64_t parse_int(std::string_view text, int64_t lo, int64_t hi, std::string_view what);

/// `text` split at `sep`; an empty text or an empty item ("a,,b", "a,", "64x") throws UsageError
/// naming `what`, the position of the empty item and the text. The one list parser of the CLI.
std::vector<std::string> split_list(std::string_view text, char sep, std::string_view what);

/// split_list, each item through parse_int(item, lo, hi): "3x16x16" with sep 'x'.
std::vector<int64_t> parse_int_list(std::string_view text, char sep, int64_t lo, int64_t hi, std::string_view what);

/// Parses `argv` (the words after the command name) against `specs`. `command` names the
/// command in error messages ("explain").
Args parse_args(std::string command, std::span<const std::string> argv, std::vector<FlagSpec> specs);

/// Help lines for a flag table, one per flag, aligned: "  --image FILE    input image ...".
std::string format_flags(std::span<const FlagSpec> specs);

/// "--image, --out, --save" (for "accepted: ..." messages).
std::string flag_names(std::span<const FlagSpec> specs);

}  // namespace backlight::cli
