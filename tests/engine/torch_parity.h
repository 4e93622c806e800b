#pragma once
// PyTorch parity harness: loads fixtures written by tools/reference/make_engine_fixtures.py,
// runs each op case on a tape, and compares the forward output and every gradient with the
// reference at max|got - ref| <= rtol * max(1, max|ref|) over finite values; NaN and +-Inf must
// sit at the same positions as in the reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "models/safetensors.h"

namespace backlight::test {

/// Every op case of the fixtures is held to this (relative to max(1, max|ref|)).
inline constexpr double kOpParityTol = 1e-5;
/// Composed networks (a dozen ops deep, float32 end to end vs a float64 reference).
inline constexpr double kNetworkParityTol = 1e-4;

inline std::string fixture_path(const std::string& file) { return std::string(BACKLIGHT_TEST_DATA "/engine/") + file; }

/// Max errors of one comparison; `ok` when max_abs <= tol * scale, scale = max(1, max|ref|).
struct ParityStats {
  double max_abs = 0, max_rel = 0, scale = 1, tol = 0;
  int64_t worst = -1;  ///< flat index of the max abs error
  bool shape_ok = true, ok = true;
  /// Error relative to the allowed error (<= 1 passes).
  double ratio() const { return tol > 0 ? max_abs / (tol * scale) : 0; }
};

inline ParityStats parity(const Tensor& got, const Tensor& ref, double tol) {
  ParityStats s;
  s.tol = tol;
  if (got.shape() != ref.shape()) {
    s.shape_ok = s.ok = false;
    return s;
  }
  for (float r : ref.span())
    if (std::isfinite(r)) s.scale = std::max(s.scale, static_cast<double>(std::fabs(r)));
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double g = got.data()[i], r = ref.data()[i];
    // Non-finite values must match exactly: NaN where the reference has NaN, the same infinity.
    const bool exact = !std::isfinite(g) || !std::isfinite(r);
    const bool same = (std::isnan(g) && std::isnan(r)) || g == r;
    const double err = exact ? (same ? 0.0 : INFINITY) : std::fabs(g - r);
    if (err > s.max_abs || (std::isinf(err) && s.worst < 0)) {
      s.max_abs = err;
      s.worst = i;
    }
    s.max_rel = std::max(s.max_rel, err / std::max(1e-30, std::fabs(r)));
  }
  s.ok = s.max_abs <= tol * s.scale;
  return s;
}

/// Human-readable account of a comparison ("what": "conv2d.groups grad.weight").
inline std::string parity_report(const std::string& what, const Tensor& got, const Tensor& ref, const ParityStats& s) {
  std::ostringstream os;
  os << what << ": ";
  if (!s.shape_ok) {
    os << "shape " << got.shape() << " != reference " << ref.shape();
    return os.str();
  }
  os << "max abs err " << s.max_abs << " (limit " << s.tol << " x " << s.scale << " = " << s.tol * s.scale
     << "), max rel err " << s.max_rel;
  if (s.worst >= 0) os << ", worst at [" << s.worst << "]: got " << got.data()[s.worst] << ", ref " << ref.data()[s.worst];
  return os.str();
}

/// Checks one tensor against its reference; returns the stats for summaries.
inline ParityStats check_parity(const std::string& what, const Tensor& got, const Tensor& ref, double tol) {
  const ParityStats s = parity(got, ref, tol);
  CHECK_MESSAGE(s.ok, parity_report(what, got, ref, s));
  return s;
}

/// One op configuration from a fixture's "cases" metadata.
struct ParityCase {
  std::string name, op;
  std::vector<std::string> inputs, params, buffers, grads;
  nlohmann::json attrs;

  bool is(const std::vector<std::string>& list, const std::string& arg) const {
    return std::find(list.begin(), list.end(), arg) != list.end();
  }
};

inline std::vector<ParityCase> load_cases(const SafeTensorsFile& f) {
  const auto it = f.metadata.find("cases");
  REQUIRE_MESSAGE(it != f.metadata.end(), f.path, ": no \"cases\" metadata");
  std::vector<ParityCase> out;
  for (const nlohmann::json& c : nlohmann::json::parse(it->second)) {
    using Names = std::vector<std::string>;
    out.push_back({c.at("name").get<std::string>(), c.at("op").get<std::string>(), c.at("inputs").get<Names>(),
                   c.at("params").get<Names>(), c.at("buffers").get<Names>(), c.at("grads").get<Names>(),
                   c.at("attrs")});
  }
  return out;
}

/// What a builder gets: tape leaves by argument name, and non-differentiable tensors (indices).
struct CaseInputs {
  std::map<std::string, Var> vars;
  std::map<std::string, Tensor> raw;
  /// Optional argument (bias, weight of a no-affine layernorm): undefined Var when absent.
  Var opt(const std::string& arg) const {
    const auto it = vars.find(arg);
    return it == vars.end() ? Var() : it->second;
  }
  const Var& at(const std::string& arg) const {
    const auto it = vars.find(arg);
    REQUIRE_MESSAGE(it != vars.end(), "fixture case lacks input \"", arg, "\"");
    return it->second;
  }
};

using CaseBuilder = std::function<Var(const ParityCase&, const CaseInputs&)>;

/// Worst result of one case (for the -s summary).
struct CaseResult {
  std::string name;
  double worst_ratio = 0;
  std::string worst_what;
  bool ran = false;
};

/// Runs one case: leaves for every input (params as parameters, buffers as buffers, the rest as
/// inputs; arguments without a gradient and not buffers are raw tensors), the op, backward with the
/// fixture's cotangent w.r.t. every argument PyTorch differentiated, and the comparisons.
inline CaseResult run_case(const SafeTensorsFile& f, const ParityCase& c, const CaseBuilder& build, double tol) {
  CaseResult r;
  r.name = c.name;
  Tape tape;
  CaseInputs in;
  for (const std::string& arg : c.inputs) {
    const Tensor t = f.at(c.name + "/in." + arg).clone();
    if (c.is(c.buffers, arg))
      in.vars[arg] = tape.buffer(t, arg);
    else if (!c.is(c.grads, arg))
      in.raw[arg] = t;
    else if (c.is(c.params, arg))
      in.vars[arg] = tape.param(t, arg);
    else
      in.vars[arg] = tape.input(t, arg);
  }
  auto note = [&](const std::string& what, const ParityStats& s) {
    if (s.ratio() > r.worst_ratio || !s.shape_ok) {
      r.worst_ratio = s.shape_ok ? s.ratio() : INFINITY;
      r.worst_what = what;
    }
  };
  try {
    const Var y = build(c, in);
    note("out", check_parity(c.name + " out", y.value(), f.at(c.name + "/out"), tol));
    std::vector<Var> wrt;
    for (const std::string& arg : c.grads) wrt.push_back(in.at(arg));
    const std::vector<Var> outs{y};
    const std::vector<Tensor> seeds{f.at(c.name + "/cot")};
    const std::vector<Tensor> grads = backward(tape, outs, seeds, wrt, RuleSet());
    for (size_t i = 0; i < c.grads.size(); ++i)
      note("grad." + c.grads[i], check_parity(c.name + " grad." + c.grads[i], grads[i],
                                              f.at(c.name + "/grad." + c.grads[i]), tol));
    r.ran = true;
  } catch (const std::exception& e) {
    FAIL_CHECK(c.name, " (op ", c.op, ") threw: ", e.what());
  }
  return r;
}

/// Runs every case of a fixture file; each case's op must have a builder. With `-s` prints the
/// worst error (relative to the limit) per case.
inline void run_fixture(const std::string& file, const std::map<std::string, CaseBuilder>& builders,
                        double tol = kOpParityTol) {
  const SafeTensorsFile f = read_safetensors(fixture_path(file));
  const std::vector<ParityCase> cases = load_cases(f);
  REQUIRE(!cases.empty());
  std::ostringstream summary;
  for (const ParityCase& c : cases) {
    const auto b = builders.find(c.op);
    if (b == builders.end()) {
      FAIL_CHECK(file, ": no builder for op \"", c.op, "\" (case ", c.name, ")");
      continue;
    }
    const CaseResult r = run_case(f, c, b->second, tol);
    summary << "  " << c.name << ": " << (r.ran ? "" : "FAILED TO RUN, ") << "worst err/limit " << r.worst_ratio
            << " (" << r.worst_what << ")\n";
  }
  if (doctest::getContextOptions()->success) MESSAGE(file, " (", cases.size(), " cases):\n", summary.str());
}

// --- attribute decoding ---------------------------------------------------------------------------

inline int pair_at(const nlohmann::json& a, const char* key, int i) { return a.at(key).at(i).get<int>(); }

inline Conv2dAttrs conv_attrs(const nlohmann::json& a) {
  return {.stride_h = pair_at(a, "stride", 0), .stride_w = pair_at(a, "stride", 1),
          .pad_h = pair_at(a, "padding", 0), .pad_w = pair_at(a, "padding", 1),
          .dilation_h = pair_at(a, "dilation", 0), .dilation_w = pair_at(a, "dilation", 1),
          .groups = a.at("groups").get<int>()};
}

inline Pool2dAttrs pool_attrs(const nlohmann::json& a) {
  return {.kernel_h = pair_at(a, "kernel", 0), .kernel_w = pair_at(a, "kernel", 1),
          .stride_h = pair_at(a, "stride", 0), .stride_w = pair_at(a, "stride", 1),
          .pad_h = pair_at(a, "padding", 0), .pad_w = pair_at(a, "padding", 1),
          .dilation_h = pair_at(a, "dilation", 0), .dilation_w = pair_at(a, "dilation", 1),
          .ceil_mode = a.at("ceil_mode").get<bool>(), .count_include_pad = a.at("count_include_pad").get<bool>()};
}

}  // namespace backlight::test
