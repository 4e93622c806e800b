#pragma once
/// Benchmark harness shared by bench/bench_*.cpp (STYLE pattern 11): validate, then time.
///
///   bench::Options opt = bench::parse_args(argc, argv);   // --json --quick --only X --min-time S ...
///   bench::Reporter rep(opt);
///   if (opt.selected("conv/b1")) {
///     rep.validate("conv/b1", [&] { return report_or_empty_string; });  // before timing
///     bench::Stats s = bench::measure(opt, [&] { run(); });
///     rep.emit(bench::Record("conv/b1").add("gflops", flops / s.median / 1e9), s);
///   }
///   return rep.exit_code();   // nonzero when a validation failed
///
/// Timing: `warmup` untimed calls, then timed calls until both `min_repeats` calls and
/// `min_time` seconds are reached (capped at `max_repeats`); reports median, min and max of the
/// per-call wall times, plus the median process CPU time per call (cpu, all threads; wall >> cpu /
/// threads means the machine was busy). --quick (CI smoke runs): one warm-up, two timed calls.
/// Output: one text line per configuration, or with --json one JSON object per line carrying
/// the same fields (JSON Lines; the last line of a run is {"summary": ...}).
/// Header-only, no dependencies beyond the standard library; only bench mains call exit codes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace backlight::bench {

struct Options {
  bool json = false;
  bool quick = false;
  bool check = true;           ///< validate before timing (--no-check skips it)
  std::vector<std::string> only;  ///< configurations to run (substring match); empty = all
  double min_time = 1.0;       ///< seconds of timed calls per configuration
  int warmup = 1;
  int min_repeats = 5;
  int max_repeats = 1000;
  int threads = 0;             ///< 0 = OpenMP default
  std::vector<std::string> extra;  ///< arguments the harness did not recognise (bench-specific)

  /// True when `name` passes the --only filters: a filter selects the configurations whose name
  /// contains it, or with a leading '=' exactly the one so named ("=resnet18/b1/forward" leaves
  /// out "resnet18/b1/forward_input_grad").
  bool selected(std::string_view name) const {
    if (only.empty()) return true;
    for (const std::string& f : only) {
      if (!f.empty() && f[0] == '=') {
        if (name == std::string_view(f).substr(1)) return true;
      } else if (name.find(f) != std::string_view::npos) {
        return true;
      }
    }
    return false;
  }
  /// Value of a bench-specific "--key value" argument, or `fallback`.
  std::string get(std::string_view key, std::string fallback = {}) const {
    for (size_t i = 0; i + 1 < extra.size(); ++i)
      if (extra[i] == key) return extra[i + 1];
    return fallback;
  }
  bool has(std::string_view key) const { return std::find(extra.begin(), extra.end(), key) != extra.end(); }
};

inline void print_usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--json] [--quick] [--no-check] [--only [=]NAME[,...]]... [--min-time S]\n"
               "          [--warmup N] [--repeats N] [--max-repeats N] [--threads N] [bench options]\n",
               prog);
}

/// Parses the common options; unknown arguments are kept in Options::extra for the bench.
inline Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        print_usage(argv[0]);
        std::fprintf(stderr, "%s: %s needs a value\n", argv[0], a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") o.json = true;
    else if (a == "--quick") o.quick = true;
    else if (a == "--check") o.check = true;
    else if (a == "--no-check") o.check = false;
    else if (a == "--only") {
      std::stringstream ss(next());
      for (std::string part; std::getline(ss, part, ',');)
        if (!part.empty()) o.only.push_back(part);
    } else if (a == "--min-time") o.min_time = std::stod(next());
    else if (a == "--warmup") o.warmup = std::stoi(next());
    else if (a == "--repeats") o.min_repeats = std::stoi(next());
    else if (a == "--max-repeats") o.max_repeats = std::stoi(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--help" || a == "-h") {
      print_usage(argv[0]);
      std::exit(0);
    } else o.extra.push_back(a);
  }
  if (o.quick) {
    o.warmup = std::min(o.warmup, 1);
    o.min_repeats = 2;
    o.max_repeats = 2;
    o.min_time = 0.0;
  }
  o.max_repeats = std::max(o.max_repeats, o.min_repeats);
  return o;
}

struct Stats {
  double median = 0, min = 0, max = 0;  ///< wall seconds per call
  double cpu_median = 0;  ///< process CPU seconds per call (all threads): on a loaded machine the
                          ///< wall time grows while this stays near the work done. Other threads'
                          ///< time is accounted at scheduler ticks, so for calls of a few ms or
                          ///< less it can read low.
  int repeats = 0;
};

inline Stats summarize(std::vector<double> t) {
  Stats s;
  if (t.empty()) return s;
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  s.median = (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  s.min = t.front();
  s.max = t.back();
  s.repeats = static_cast<int>(n);
  return s;
}

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Times f() as described at the top of this file.
template <class F>
Stats measure(const Options& o, F&& f) {
  for (int i = 0; i < o.warmup; ++i) f();
  std::vector<double> times, cpu;
  const double start = now_seconds();
  while (static_cast<int>(times.size()) < o.max_repeats) {
    const double c0 = cpu_seconds(), t0 = now_seconds();
    f();
    times.push_back(now_seconds() - t0);
    cpu.push_back(cpu_seconds() - c0);
    if (static_cast<int>(times.size()) >= o.min_repeats && now_seconds() - start >= o.min_time) break;
  }
  Stats s = summarize(std::move(times));
  s.cpu_median = summarize(std::move(cpu)).median;
  return s;
}

/// One output record: a configuration name and ordered fields.
struct Record {
  using Value = std::variant<std::string, double, int64_t, bool>;
  std::string name;
  std::vector<std::pair<std::string, Value>> fields;

  explicit Record(std::string n) : name(std::move(n)) {}
  Record& add(std::string key, std::string v) & { return push(std::move(key), Value(std::move(v))); }
  Record& add(std::string key, const char* v) & { return push(std::move(key), Value(std::string(v))); }
  Record& add(std::string key, double v) & { return push(std::move(key), Value(v)); }
  Record& add(std::string key, int64_t v) & { return push(std::move(key), Value(v)); }
  Record& add(std::string key, int v) & { return push(std::move(key), Value(static_cast<int64_t>(v))); }
  Record& add(std::string key, bool v) & { return push(std::move(key), Value(v)); }
  template <class T>
  Record&& add(std::string key, T v) && {
    add(std::move(key), std::move(v));
    return std::move(*this);
  }

 private:
  Record& push(std::string key, Value v) {
    fields.emplace_back(std::move(key), std::move(v));
    return *this;
  }
};

inline std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

/// Prints records (text or JSON Lines), runs validations, and keeps the exit status.
class Reporter {
 public:
  explicit Reporter(const Options& o) : opt_(o) {}

  /// Runs `check` (returns "" when the result matches its reference, else a report of the first
  /// mismatches) unless --no-check. Returns true when the configuration may be timed.
  bool validate(const std::string& name, const std::function<std::string()>& check) {
    if (!opt_.check) return true;
    std::string report;
    try {
      report = check();
    } catch (const std::exception& e) {
      report = std::string("exception: ") + e.what();
    }
    if (report.empty()) {
      ++checks_passed_;
      return true;
    }
    ++checks_failed_;
    if (opt_.json)
      std::printf("{\"name\":\"%s\",\"check\":\"FAILED\",\"report\":\"%s\"}\n", json_escape(name).c_str(),
                  json_escape(report).c_str());
    else
      std::printf("%-40s CHECK FAILED\n%s\n", name.c_str(), report.c_str());
    std::fflush(stdout);
    return false;
  }

  /// Prints one line: the record's fields followed by the timing statistics.
  void emit(Record r, const Stats& s) {
    r.add("median_s", s.median).add("min_s", s.min).add("max_s", s.max).add("cpu_s", s.cpu_median);
    r.add("repeats", s.repeats);
    emit(r);
  }
  void emit(const Record& r) {
    std::ostringstream os;
    if (opt_.json) {
      os << "{\"name\":\"" << json_escape(r.name) << '"';
      for (const auto& [k, v] : r.fields) {
        os << ",\"" << json_escape(k) << "\":";
        std::visit(
            [&](const auto& x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, std::string>) os << '"' << json_escape(x) << '"';
              else if constexpr (std::is_same_v<T, bool>) os << (x ? "true" : "false");
              else if constexpr (std::is_same_v<T, double>) {
                if (std::isfinite(x)) os << std::setprecision(6) << x;
                else os << "null";
              } else os << x;
            },
            v);
      }
      os << '}';
    } else {
      os << std::left << std::setw(40) << r.name;
      for (const auto& [k, v] : r.fields) {
        // Seconds ("*_s") print as milliseconds under the key without the suffix.
        const bool seconds = k.size() > 2 && k.compare(k.size() - 2, 2, "_s") == 0;
        os << "  " << (seconds ? k.substr(0, k.size() - 2) : k) << '=';
        std::visit(
            [&](const auto& x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, double>) {
                if (seconds) os << std::fixed << std::setprecision(3) << x * 1e3 << "ms" << std::defaultfloat;
                else os << std::setprecision(4) << x;
              } else if constexpr (std::is_same_v<T, bool>) os << (x ? "yes" : "no");
              else os << x;
            },
            v);
      }
    }
    std::printf("%s\n", os.str().c_str());
    std::fflush(stdout);
  }

  /// Free-form note (text mode only; JSON consumers see records only).
  void note(const std::string& text) {
    if (!opt_.json) std::printf("# %s\n", text.c_str());
  }

  /// Prints the summary line; returns the process exit status (1 when a check failed).
  int exit_code() {
    if (opt_.json)
      std::printf("{\"summary\":true,\"checks_passed\":%d,\"checks_failed\":%d}\n", checks_passed_, checks_failed_);
    else if (opt_.check)
      std::printf("# checks: %d passed, %d failed\n", checks_passed_, checks_failed_);
    return checks_failed_ ? 1 : 0;
  }

 private:
  const Options& opt_;
  int checks_passed_ = 0, checks_failed_ = 0;
};

}  // namespace backlight::bench
