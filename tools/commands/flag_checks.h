#pragma once
/// Validators for the flags several commands share (explain, evaluate, train): each reads one
/// flag through Args' typed getters (one integer parser, one list parser: tools/cli/args.h) and
/// throws UsageError (exit 2) naming the command, the flag and what it accepts, before any work.
#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/args.h"

namespace backlight::cli {

/// A positive integer flag that ends up in an `int` (steps, samples, batch sizes): [1, INT_MAX].
std::optional<int64_t> positive_flag(const Args& args, std::string_view flag, int64_t hi = INT_MAX);

/// --seed N in [0, 2^63 - 1]; negative seeds are refused (never wrapped into a uint64_t).
std::optional<uint64_t> seed_flag(const Args& args);

/// --threads N in [1, max_threads()] (tools/cli/limits.h). Does not apply it.
std::optional<int> threads_flag(const Args& args);

/// A comma-separated list of method names (registry: methods()), no empty items; unknown names
/// are usage errors listing the accepted ones. `fallback` when the flag is absent.
std::vector<std::string> method_list_flag(const Args& args, std::string_view flag, std::string_view fallback);

/// A comma-separated list of names from `accepted` ("all": every accepted name, in order), no
/// empty items or duplicates; unknown names are usage errors listing the accepted ones.
std::vector<std::string> name_list_flag(const Args& args, std::string_view flag, std::string_view fallback,
                                        const std::vector<std::string>& accepted);

/// A number flag in (lo, hi] (`lo_open`) or [lo, hi]; usage error naming the range otherwise.
std::optional<double> number_flag(const Args& args, std::string_view flag, double lo, double hi, bool lo_open = false);

/// A comma-separated list of numbers in (0, 1] (fractions of pixels), at least one.
std::optional<std::vector<double>> fraction_list_flag(const Args& args, std::string_view flag);

/// --max-pixels N: the decoded-pixel cap of input images (default kDefaultMaxPixels).
int64_t max_pixels_flag(const Args& args);

/// An output file flag's path must end in one of the image extensions write_image accepts (or
/// be an existing device or pipe, which gets PNG); usage error listing them otherwise.
void require_image_extension(const Args& args, std::string_view flag, const std::string& path);

}  // namespace backlight::cli
