#include "tools/commands/flag_checks.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "attribution/registry.h"
#include "io/image_io.h"
#include "tools/cli/limits.h"

namespace backlight::cli {

std::optional<int64_t> positive_flag(const Args& args, std::string_view flag, int64_t hi) {
  return args.get_int(flag, 1, hi);
}

std::optional<uint64_t> seed_flag(const Args& args) {
  const std::optional<int64_t> s = args.get_int("seed", 0, INT64_MAX);
  if (!s) return std::nullopt;
  return static_cast<uint64_t>(*s);
}

std::optional<int> threads_flag(const Args& args) {
  const std::optional<int64_t> t = args.get_int("threads", 1, max_threads());
  if (!t) return std::nullopt;
  return static_cast<int>(*t);
}

std::vector<std::string> method_list_flag(const Args& args, std::string_view flag, std::string_view fallback) {
  const std::string what = args.command() + ": --" + std::string(flag);
  const std::vector<std::string> names = split_list(args.get_or(flag, fallback), ',', what);
  std::string known;
  for (const MethodInfo& m : methods()) known += (known.empty() ? "" : ", ") + m.name;
  for (const std::string& name : names) {
    bool ok = false;
    for (const MethodInfo& m : methods()) ok |= m.name == name;
    if (!ok) throw UsageError(what + ": unknown method '" + name + "' (accepted: " + known + ")");
  }
  return names;
}

std::vector<std::string> name_list_flag(const Args& args, std::string_view flag, std::string_view fallback,
                                        const std::vector<std::string>& accepted) {
  const std::string what = args.command() + ": --" + std::string(flag);
  const std::string text = args.get_or(flag, fallback);
  if (text == "all") return accepted;
  const std::vector<std::string> names = split_list(text, ',', what);
  std::string known;
  for (const std::string& a : accepted) known += (known.empty() ? "" : ", ") + a;
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::find(accepted.begin(), accepted.end(), names[i]) == accepted.end())
      throw UsageError(what + ": unknown name '" + names[i] + "' (accepted: " + known + ", or all)");
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) != names.begin() + static_cast<std::ptrdiff_t>(i))
      throw UsageError(what + ": '" + names[i] + "' is listed twice");
  }
  return names;
}

std::optional<double> number_flag(const Args& args, std::string_view flag, double lo, double hi, bool lo_open) {
  const std::optional<double> v = args.get_double(flag);
  if (v && ((lo_open ? !(*v > lo) : !(*v >= lo)) || !(*v <= hi))) {
    std::ostringstream os;
    os << args.command() << ": --" << flag << " expects a number in " << (lo_open ? "(" : "[") << lo << ", " << hi
       << "], got " << *v;
    throw UsageError(os.str());
  }
  return v;
}

std::optional<std::vector<double>> fraction_list_flag(const Args& args, std::string_view flag) {
  const std::string what = args.command() + ": --" + std::string(flag);
  const std::optional<std::string> text = args.get(flag);
  if (!text) return std::nullopt;
  std::vector<double> out;
  for (const std::string& item : split_list(*text, ',', what)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (end != item.c_str() + item.size() || !(v > 0 && v <= 1))
      throw UsageError(what + ": expected fractions in (0, 1], got '" + item + "'");
    out.push_back(v);
  }
  return out;
}

int64_t max_pixels_flag(const Args& args) { return args.get_int("max-pixels", 1, INT64_MAX).value_or(kDefaultMaxPixels); }

void require_image_extension(const Args& args, std::string_view flag, const std::string& path) {
  // An existing device or pipe (/dev/null, /dev/stdout) takes PNG bytes whatever its name.
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (std::filesystem::is_character_file(st) || std::filesystem::is_fifo(st)) return;
  if (!image_format_for(path))
    throw UsageError(args.command() + ": --" + std::string(flag) + " '" + path +
                     "': unknown picture format (accepted extensions: " + writable_image_extensions() + ")");
}

}  // namespace backlight::cli
