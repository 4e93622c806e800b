#pragma once
/// Progress: a progress bar on stderr for long attribution runs (perturbation methods run
/// thousands of forwards). Nothing is printed for runs that finish within `delay_seconds`
/// (default 2 s) or when disabled. On a terminal the bar redraws in place with rate and ETA:
///   occlusion  [##########..........]  450/900  212.4/s  ETA 2s
/// When stderr is not a terminal (logs, CI) it prints plain lines, at most every
/// `line_interval_seconds` and at the end. One Progress per run, owned by the caller (no global
/// state); advance() may be called from one thread at a time.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace backlight {

struct ProgressOptions {
  bool enabled = true;               ///< false: never print
  double delay_seconds = 2.0;        ///< print only once the run has taken this long
  double line_interval_seconds = 5;  ///< non-terminal output: seconds between plain lines
  std::FILE* stream = nullptr;       ///< nullptr: stderr (tests pass a temporary file)
  bool force_plain = false;          ///< plain lines even on a terminal
};

class Progress {
 public:
  /// `label` names the run ("occlusion"); `total` is the number of units (forward passes).
  Progress(std::string label, int64_t total, ProgressOptions options = {});
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  /// Prints the final state (if anything was printed) and ends the line.
  ~Progress();

  /// Marks `units` more units done and redraws when due.
  void advance(int64_t units = 1);
  /// Completes the bar now (idempotent; the destructor calls it).
  void finish();

  int64_t done() const { return done_; }
  int64_t total() const { return total_; }
  /// Whether anything has been printed so far.
  bool shown() const { return shown_; }
  /// The text of the current state, as printed (for tests): label, bar or count, rate, ETA.
  std::string line(double elapsed_seconds) const;

 private:
  void draw(bool final);
  double elapsed() const;

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  ProgressOptions options_;
  std::FILE* out_;
  bool terminal_ = false;
  bool shown_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  double last_draw_ = -1e9;
};

}  // namespace backlight
