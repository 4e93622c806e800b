#include "attribution/core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace backlight {

namespace {

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  if (t < 60) return std::to_string(t) + "s";
  if (t < 3600) return std::to_string(t / 60) + "m" + std::to_string(t % 60) + "s";
  return std::to_string(t / 3600) + "h" + std::to_string(t / 60 % 60) + "m";
}

}  // namespace

Progress::Progress(std::string label, int64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 0)),
      options_(options),
      out_(options.stream ? options.stream : stderr),
      start_(std::chrono::steady_clock::now()) {
  terminal_ = !options_.force_plain && isatty(fileno(out_)) != 0;
}

Progress::~Progress() { finish(); }

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line(double t) const {
  char buf[128];
  const double rate = t > 0 ? done_ / t : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : NAN;
  std::string s = label_ + "  ";
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    s += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]  ";
  }
  std::snprintf(buf, sizeof(buf), "%lld/%lld  %.1f/s  ", static_cast<long long>(done_), static_cast<long long>(total_),
                rate);
  s += buf;
  s += done_ >= total_ ? "done in " + duration(t) : "ETA " + duration(eta);
  return s;
}

void Progress::draw(bool final) {
  const double t = elapsed();
  if (!final && t - last_draw_ < (terminal_ ? 0.1 : options_.line_interval_seconds)) return;
  last_draw_ = t;
  const std::string text = line(t);
  if (terminal_)
    std::fprintf(out_, "\r%s\033[K%s", text.c_str(), final ? "\n" : "");
  else
    std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
  shown_ = true;
}

void Progress::advance(int64_t units) {
  done_ = std::min(total_, done_ + units);
  if (!options_.enabled || finished_) return;
  if (!shown_ && elapsed() < options_.delay_seconds) return;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (options_.enabled && shown_) draw(true);
}

}  // namespace backlight
