#pragma once
// Running the built `backlight` executable from CLI tests (BACKLIGHT_CLI is its path,
// tests/CMakeLists.txt) and reading what it wrote.
#include <doctest/doctest.h>
#include <stb_image.h>  // declarations only; the implementation is in backlight_cli_support
#include <sys/wait.h>

#include <cstdio>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/tensor.h"
#include "tests/cli/temp_dir.h"

namespace backlight::test {

struct Run {
  int status = -1;     ///< exit status (-1 when killed by a signal)
  std::string output;  ///< stdout, plus stderr unless split
};

/// Runs `backlight <args> <stderr_redirect>` through the shell, without stdin; output is stdout.
inline Run run_cli_redirected(const std::string& args, const std::string& stderr_redirect) {
  const std::string cmd = std::string("'") + BACKLIGHT_CLI + "' " + args + " " + stderr_redirect + " </dev/null";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Runs `<shell_prefix> backlight <args>` with stderr merged, e.g. prefix "ulimit -f 8;" to make
/// writes past 8 blocks fail (EFBIG) as on a full disk.
inline Run run_cli_after(const std::string& shell_prefix, const std::string& args) {
  const std::string cmd = shell_prefix + " '" + BACKLIGHT_CLI + "' " + args + " 2>&1 </dev/null";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// Runs `backlight <args>`; stderr merged into output unless `stdout_only`.
inline Run run_cli(const std::string& args, bool stdout_only = false) {
  return run_cli_redirected(args, stdout_only ? "2>/dev/null" : "2>&1");
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct SplitRun {
  int status = -1;
  std::string out, err;
};

/// Runs `backlight <args>` with stdout and stderr captured separately (stderr via `err_file`).
inline SplitRun run_cli_split(const std::string& args, const std::string& err_file) {
  const Run r = run_cli_redirected(args, "2>'" + err_file + "'");
  return {r.status, r.output, backlight::test::read_bytes(err_file)};
}

/// The JSON a run printed (`text`) without the top-level `keys`: what differs between runs of one
/// job (timings, rank count, resumed count, output paths), so that the rest compares bit for bit.
inline nlohmann::json json_without(const std::string& text, std::initializer_list<const char*> keys) {
  nlohmann::json j = nlohmann::json::parse(text);
  for (const char* key : keys) j.erase(key);
  return j;
}

/// Decodes a PNG (3 channels) -> [3,H,W] in [0,1]; fails the test when it does not decode.
inline Tensor decode_png(const std::string& path) {
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &comp, 3);
  REQUIRE_MESSAGE(px, "not a decodable image: ", path);
  Tensor t = Tensor::empty({3, h, w});
  for (int64_t i = 0; i < static_cast<int64_t>(w) * h; ++i)
    for (int64_t k = 0; k < 3; ++k) t.data()[k * w * h + i] = px[i * 3 + k] / 255.0f;
  stbi_image_free(px);
  return t;
}

}  // namespace backlight::test
