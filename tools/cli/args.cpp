#include "tools/cli/args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace backlight::cli {

namespace {

const FlagSpec* find_spec(std::span<const FlagSpec> specs, std::string_view name) {
  for (const FlagSpec& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}

bool parse_bool(std::string_view v, bool& out) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return out = true, true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return out = false, true;
  return false;
}

}  // namespace

std::string flag_names(std::span<const FlagSpec> specs) {
  std::string s;
  for (const FlagSpec& f : specs) s += (s.empty() ? "--" : ", --") + f.name;
  return s.empty() ? "(none)" : s;
}

std::string format_flags(std::span<const FlagSpec> specs) {
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& f : specs) {
    std::string l = "--" + f.name + (f.kind == FlagKind::Value ? " " + f.metavar : "");
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    out += "  " + left[i] + std::string(width - left[i].size() + 3, ' ') + specs[i].help;
    if (specs[i].repeated) out += " (repeatable)";
    out += "\n";
  }
  return out;
}

Args parse_args(std::string command, std::span<const std::string> argv, std::vector<FlagSpec> specs) {
  Args args(std::move(command), std::move(specs));
  const std::string& cmd = args.command_;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (flags_done || word.size() < 2 || word.compare(0, 2, "--") != 0) {
      // "-x" single-dash words are not flags we know; name them rather than treat as values.
      if (!flags_done && word.size() > 1 && word[0] == '-' && word != "-")
        throw UsageError(cmd + ": unknown flag '" + word + "'; accepted: " + flag_names(args.specs_));
      args.positional_.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_done = true;
      continue;
    }
    const size_t eq = word.find('=');
    const std::string name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const FlagSpec* s = find_spec(args.specs_, name);
    if (!s) throw UsageError(cmd + ": unknown flag '--" + name + "'; accepted: " + flag_names(args.specs_));
    std::string value;
    if (s->kind == FlagKind::Bool) {
      bool b = true;
      if (eq != std::string::npos && !parse_bool(std::string_view(word).substr(eq + 1), b))
        throw UsageError(cmd + ": --" + name + " is a switch (--" + name + " or --" + name +
                         "=true|false), got '" + word + "'");
      value = b ? "true" : "false";
    } else if (eq != std::string::npos) {
      value = word.substr(eq + 1);
    } else {
      if (i + 1 >= argv.size())
        throw UsageError(cmd + ": --" + name + " expects a value (--" + name + " " + s->metavar + ")");
      value = argv[++i];
    }
    auto& slot = args.values_[name];
    if (!slot.empty() && !s->repeated)
      throw UsageError(cmd + ": --" + name + " given more than once (it takes one value)");
    slot.push_back(std::move(value));
  }
  return args;
}

const FlagSpec& Args::spec(std::string_view name) const {
  const FlagSpec* s = find_spec(specs_, name);
  // Asking for a flag the command never declared is a bug in the command, not in the input.
  if (!s) throw std::logic_error(command_ + ": flag --" + std::string(name) + " is not declared");
  return *s;
}

std::string Args::form(const FlagSpec& s) const {
  return "--" + s.name + (s.kind == FlagKind::Value ? " " + s.metavar : "");
}

bool Args::has(std::string_view name) const {
  spec(name);
  return values_.find(name) != values_.end();
}

bool Args::flag(std::string_view name) const {
  const FlagSpec& s = spec(name);
  if (s.kind != FlagKind::Bool) throw std::logic_error(command_ + ": --" + s.name + " is not a switch");
  auto it = values_.find(name);
  return it != values_.end() && it->second.back() == "true";
}

std::optional<std::string> Args::get(std::string_view name) const {
  spec(name);
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> v = get(name);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> Args::get_all(std::string_view name) const {
  spec(name);
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t parse_int(std::string_view text, int64_t lo, int64_t hi, std::string_view what) {
  int64_t out = 0;
  const char* end = text.data() + text.size();
  // from_chars: no leading '+' or spaces, and result_out_of_range instead of wrapping.
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (text.empty() || ec != std::errc() || ptr != end || out < lo || out > hi)
    throw UsageError(std::string(what) + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got '" + std::string(text) + "'");
  return out;
}

std::vector<std::string> split_list(std::string_view text, char sep, std::string_view what) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (true) {
    const size_t end = std::min(text.find(sep, begin), text.size());
    if (end == begin)
      throw UsageError(std::string(what) + ": empty item " + std::to_string(out.size() + 1) + " in '" +
                       std::string(text) + "' (items are separated by a single '" + std::string(1, sep) + "')");
    out.emplace_back(text.substr(begin, end - begin));
    if (end == text.size()) return out;
    begin = end + 1;
  }
}

std::vector<int64_t> parse_int_list(std::string_view text, char sep, int64_t lo, int64_t hi, std::string_view what) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(text, sep, what)) {
    try {
      out.push_back(parse_int(item, lo, hi, what));
    } catch (const UsageError&) {
      throw UsageError(std::string(what) + " expects integers in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       "] separated by '" + std::string(1, sep) + "', got '" + std::string(text) + "'");
    }
  }
  return out;
}

std::optional<int64_t> Args::get_int(std::string_view name, int64_t lo, int64_t hi) const {
  std::optional<std::string> v = get(name);
  if (!v) return std::nullopt;
  return parse_int(*v, lo, hi, command_ + ": --" + std::string(name));
}

std::optional<std::vector<std::string>> Args::get_list(std::string_view name, char sep) const {
  std::optional<std::string> v = get(name);
  if (!v) return std::nullopt;
  return split_list(*v, sep, command_ + ": --" + std::string(name));
}

std::optional<double> Args::get_double(std::string_view name) const {
  std::optional<std::string> v = get(name);
  if (!v) return std::nullopt;
  // strtod instead of from_chars<double>: the latter needs a newer libstdc++ than some distros ship.
  char* end = nullptr;
  const double out = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !std::isfinite(out))
    throw UsageError(command_ + ": --" + std::string(name) + " expects a number (" + form(spec(name)) +
                     "), got '" + *v + "'");
  return out;
}

}  // namespace backlight::cli
