// The op kinds added for ONNX import (engine/ops/math.cpp, activation.cpp, binary.cpp, reduce.cpp):
// finite-difference gradients, PyTorch parity of forward and gradient including NaN/+-Inf, kinks and
// ties (tools/reference/make_onnx_ops_fixtures.py), their op-table facts and rule behaviour.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "engine/rules/affine.h"
#include "engine/rules/builtin.h"
#include "engine/rules/rule_set.h"
#include "tests/engine/torch_parity.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

std::vector<int> ints(const nlohmann::json& a, const char* key) { return a.at(key).get<std::vector<int>>(); }
float number(const nlohmann::json& a, const char* key) { return a.at(key).get<float>(); }
// Clip bounds: JSON has no infinity, the fixture writes null for "unbounded".
float bound(const nlohmann::json& a, const char* key, float unbounded) {
  return a.at(key).is_null() ? unbounded : a.at(key).get<float>();
}
constexpr float kInf = std::numeric_limits<float>::infinity();

ResizeAttrs resize_attrs(const nlohmann::json& a) {
  ResizeAttrs r;
  r.mode = a.at("mode") == "nearest" ? ResizeAttrs::Mode::Nearest : ResizeAttrs::Mode::Linear;
  const std::string c = a.at("coord");
  r.coord = c == "asymmetric"           ? ResizeAttrs::Coord::Asymmetric
            : c == "half_pixel"         ? ResizeAttrs::Coord::HalfPixel
            : c == "pytorch_half_pixel" ? ResizeAttrs::Coord::PytorchHalfPixel
                                        : ResizeAttrs::Coord::AlignCorners;
  const std::string rd = a.at("round");
  r.round = rd == "floor" ? ResizeAttrs::Round::Floor
            : rd == "ceil" ? ResizeAttrs::Round::Ceil
            : rd == "round_prefer_floor" ? ResizeAttrs::Round::RoundPreferFloor
                                         : ResizeAttrs::Round::RoundPreferCeil;
  r.out_h = a.at("out").at(0).get<int64_t>();
  r.out_w = a.at("out").at(1).get<int64_t>();
  r.inv_scale_h = a.at("inv_scale").at(0).get<float>();
  r.inv_scale_w = a.at("inv_scale").at(1).get<float>();
  return r;
}

const std::map<std::string, CaseBuilder>& builders() {
  static const std::map<std::string, CaseBuilder> table = {
      {"exp", [](const ParityCase&, const CaseInputs& in) { return backlight::exp(in.at("x")); }},
      {"log", [](const ParityCase&, const CaseInputs& in) { return backlight::log(in.at("x")); }},
      {"sqrt", [](const ParityCase&, const CaseInputs& in) { return backlight::sqrt(in.at("x")); }},
      {"erf", [](const ParityCase&, const CaseInputs& in) { return backlight::erf(in.at("x")); }},
      {"abs", [](const ParityCase&, const CaseInputs& in) { return backlight::abs(in.at("x")); }},
      {"silu", [](const ParityCase&, const CaseInputs& in) { return silu(in.at("x")); }},
      {"hardswish", [](const ParityCase&, const CaseInputs& in) { return hardswish(in.at("x")); }},
      {"hardsigmoid",
       [](const ParityCase& c, const CaseInputs& in) {
         return hardsigmoid(in.at("x"), number(c.attrs, "alpha"), number(c.attrs, "beta"));
       }},
      {"clip",
       [](const ParityCase& c, const CaseInputs& in) {
         return clip(in.at("x"), bound(c.attrs, "min", -kInf), bound(c.attrs, "max", kInf));
       }},
      {"pow",
       [](const ParityCase& c, const CaseInputs& in) { return backlight::pow(in.at("x"), number(c.attrs, "exponent")); }},
      {"div", [](const ParityCase&, const CaseInputs& in) { return div(in.at("a"), in.at("b")); }},
      {"maximum", [](const ParityCase&, const CaseInputs& in) { return maximum(in.at("a"), in.at("b")); }},
      {"minimum", [](const ParityCase&, const CaseInputs& in) { return minimum(in.at("a"), in.at("b")); }},
      {"where",
       [](const ParityCase&, const CaseInputs& in) { return where(in.raw.at("cond"), in.at("a"), in.at("b")); }},
      {"conv_transpose2d",
       [](const ParityCase& c, const CaseInputs& in) {
         ConvTranspose2dAttrs a;
         a.conv = conv_attrs(c.attrs);
         a.output_pad_h = pair_at(c.attrs, "output_padding", 0);
         a.output_pad_w = pair_at(c.attrs, "output_padding", 1);
         return conv_transpose2d(in.at("x"), in.at("weight"), in.opt("bias"), a);
       }},
      {"resize", [](const ParityCase& c, const CaseInputs& in) { return resize(in.at("x"), resize_attrs(c.attrs)); }},
      {"amax",
       [](const ParityCase& c, const CaseInputs& in) {
         return amax(in.at("x"), ints(c.attrs, "axes"), c.attrs.at("keepdim").get<bool>());
       }},
  };
  return table;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("onnx math ops: torch parity of forward and gradients (NaN, +-Inf, kinks, ties)") {
  run_fixture("ops_onnx_math.safetensors", builders());
}

TEST_CASE("onnx math ops: the fixture covers every new op") {
  const SafeTensorsFile f = read_safetensors(fixture_path("ops_onnx_math.safetensors"));
  std::set<std::string> covered;
  for (const ParityCase& c : load_cases(f)) covered.insert(c.op);
  for (const auto& [op, b] : builders()) CHECK_MESSAGE(covered.count(op), "no fixture case for ", op);
  CHECK(covered.size() == builders().size());
}

TEST_CASE("onnx math ops: gradcheck away from kinks") {
  std::mt19937_64 rng(kSeed);
  Tensor x = uniform({2, 3, 4}, rng, -4.0f, 4.0f);
  away_from(x, {-3.0f, 0.0f, 3.0f, -0.5f, 0.7f}, 0.05f);
  Tensor pos = uniform({2, 3, 4}, rng, 0.2f, 3.0f);
  using F = Var (*)(const Var&, std::string_view);
  for (F f : {static_cast<F>(&backlight::exp), static_cast<F>(&backlight::erf), static_cast<F>(&backlight::abs),
              static_cast<F>(&silu), static_cast<F>(&hardswish)})
    gradcheck([f](const std::vector<Var>& v) { return f(v[0], {}); }, {x});
  for (F f : {static_cast<F>(&backlight::log), static_cast<F>(&backlight::sqrt)})
    gradcheck([f](const std::vector<Var>& v) { return f(v[0], {}); }, {pos});
  gradcheck([](const std::vector<Var>& v) { return hardsigmoid(v[0], 0.2f, 0.5f); }, {x});
  gradcheck([](const std::vector<Var>& v) { return clip(v[0], -0.5f, 0.7f); }, {x});
  for (float p : {2.0f, 3.0f, -1.0f, 0.0f})
    gradcheck([p](const std::vector<Var>& v) { return backlight::pow(v[0], p); }, {x});
  for (float p : {0.5f, -0.5f, 1.7f}) gradcheck([p](const std::vector<Var>& v) { return backlight::pow(v[0], p); }, {pos});
}

TEST_CASE("onnx math ops: binary ops and amax gradcheck with broadcasting") {
  std::mt19937_64 rng(kSeed + 1);
  const Tensor a = uniform({2, 3, 4}, rng, -2.0f, 2.0f), b = uniform({3, 1}, rng, 0.5f, 2.0f);
  gradcheck([](const std::vector<Var>& v) { return div(v[0], v[1]); }, {a, b});
  gradcheck([](const std::vector<Var>& v) { return div(v[1], v[0]); }, {uniform({4}, rng, 0.5f, 2.0f), b});
  // Distinct values (no ties within the finite-difference step).
  const Tensor c = uniform({3, 4}, rng, -2.0f, 2.0f);
  Tensor d = c.clone();
  for (int64_t i = 0; i < d.numel(); ++i) d.data()[i] += (i % 2 ? 0.3f : -0.3f);
  gradcheck([](const std::vector<Var>& v) { return maximum(v[0], v[1]); }, {c, d});
  gradcheck([](const std::vector<Var>& v) { return minimum(v[0], v[1]); }, {c, d});
  Tensor cond = Tensor::zeros({3, 1});
  cond.data()[1] = 1.0f;
  gradcheck([cond](const std::vector<Var>& v) { return where(cond, v[0], v[1]); }, {c, uniform({4}, rng)});
  // Values 0.1 apart (no two within the finite-difference step of each other).
  Tensor spread = Tensor::empty({2, 3, 4});
  for (int64_t i = 0; i < spread.numel(); ++i) spread.data()[i] = static_cast<float>((i * 7) % 24) * 0.1f - 1.0f;
  const int axes[] = {1, 2};
  gradcheck([&axes](const std::vector<Var>& v) { return amax(v[0], axes, true); }, {spread});
}

TEST_CASE("conv_transpose2d and resize: gradcheck") {
  std::mt19937_64 rng(kSeed + 2);
  ConvTranspose2dAttrs a;
  a.conv.stride_h = a.conv.stride_w = 2;
  a.conv.pad_h = 1;
  a.conv.groups = 2;
  a.output_pad_h = 1;
  gradcheck([a](const std::vector<Var>& v) { return conv_transpose2d(v[0], v[1], v[2], a); },
            {randn({2, 4, 3, 4}, rng), randn({4, 3, 3, 2}, rng), randn({6}, rng)});
  ResizeAttrs r;
  r.mode = ResizeAttrs::Mode::Linear;
  r.coord = ResizeAttrs::Coord::HalfPixel;
  r.out_h = 7, r.out_w = 3, r.inv_scale_h = 4.0f / 7.0f, r.inv_scale_w = 5.0f / 3.0f;
  gradcheck([r](const std::vector<Var>& v) { return resize(v[0], r); }, {randn({1, 2, 4, 5}, rng)});
  r.mode = ResizeAttrs::Mode::Nearest;
  r.coord = ResizeAttrs::Coord::Asymmetric;
  gradcheck([r](const std::vector<Var>& v) { return resize(v[0], r); }, {randn({1, 2, 4, 5}, rng)});
}

TEST_CASE("conv_transpose2d: LRP epsilon conserves relevance without bias (affine family)") {
  std::mt19937_64 rng(kSeed + 3);
  ConvTranspose2dAttrs a;
  a.conv.stride_h = a.conv.stride_w = 2;
  Tape tape;
  const Var x = tape.input(uniform({1, 2, 3, 3}, rng, 0.1f, 1.0f));
  const Var w = tape.param(uniform({2, 3, 2, 2}, rng, 0.1f, 1.0f), "w");
  const Var y = conv_transpose2d(x, w, Var(), a);
  const std::vector<Var> outs{y}, wrt{x};
  const std::vector<Tensor> seeds{y.value()};
  const Tensor r = backward(tape, outs, seeds, wrt, RuleSet().when(kind(OpKind::ConvTranspose2d), epsilon(1e-9f)))[0];
  double in = 0, out = 0;
  for (float v : r.span()) in += v;
  for (float v : y.value().span()) out += v;
  CHECK(in == doctest::Approx(out).epsilon(1e-5));
  CHECK(is_affine_kind(OpKind::ConvTranspose2d));
  CHECK(is_affine_kind(OpKind::Resize));
}

TEST_CASE("onnx math ops: errors name the op and the problem") {
  Tape t;
  const Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(clip(x, 1.0f, 0.0f), doctest::Contains("clip: min 1 is above max 0"), Error);
  CHECK_THROWS_WITH_AS(div(x, t.input(Tensor::zeros({4}))), doctest::Contains("div: shapes"), Error);
  CHECK_THROWS_WITH_AS(where(Tensor::zeros({5}), x, x), doctest::Contains("where: shapes"), Error);
  const int bad[] = {3};
  CHECK_THROWS_AS(amax(x, bad), Error);
}

TEST_CASE("onnx math ops: op-table facts and rule behaviour") {
  for (OpKind k : {OpKind::Exp, OpKind::Log, OpKind::Sqrt, OpKind::Pow, OpKind::Abs, OpKind::Erf, OpKind::Silu,
                   OpKind::HardSigmoid, OpKind::HardSwish}) {
    CAPTURE(to_string(k));
    CHECK(facts_of(k).nonlinearity == Nonlinearity::Smooth);  // DeepLIFT rescale, LRP pass
    CHECK(facts_of(k).region == RegionFlow::Pointwise);
  }
  CHECK(facts_of(OpKind::Clip).nonlinearity == Nonlinearity::ReluLike);
  for (OpKind k : {OpKind::Div, OpKind::Maximum, OpKind::Minimum, OpKind::Where, OpKind::ReduceMax}) {
    CAPTURE(to_string(k));
    CHECK(facts_of(k).family == OpFamily::Other);
    CHECK(facts_of(k).nonlinearity == Nonlinearity::None);
  }
  // DeepLIFT rescale on a paired tape: silu's multiplier is dy/dx between input and reference.
  Tape tape(TapeOptions{.paired_reference = true});
  const Tensor xs = Tensor::from(Shape{2, 3}, {1.0f, -2.0f, 0.5f, 0.0f, 0.0f, 0.0f});
  const Var x = tape.input(xs);
  const Var y = silu(x);
  const std::vector<Var> outs{y}, wrt{x};
  const std::vector<Tensor> seeds{Tensor::full({2, 3}, 1.0f)};
  const Tensor m = backward(tape, outs, seeds, wrt, RuleSet().otherwise(deeplift_rescale()))[0];
  for (int i = 0; i < 3; ++i) {
    const float xi = xs.data()[i];
    CHECK(m.data()[i] == doctest::Approx(xi / (1.0f + std::exp(-xi)) / xi).epsilon(1e-5));
  }
  // Guided backprop applies to clip (relu_like) and refuses silu (smooth).
  Tape t2;
  const Var a = t2.input(Tensor::from(Shape{1, 3}, {-1.0f, 0.2f, 2.0f}));
  const std::vector<Var> o2{clip(a, 0.0f, 1.0f)}, w2{a};
  const std::vector<Tensor> s2{Tensor::from(Shape{1, 3}, {1.0f, -1.0f, 1.0f})};
  const Tensor gb = backward(t2, o2, s2, w2, RuleSet().otherwise(guided_backprop()))[0];
  CHECK(gb.data()[0] == 0.0f);
  CHECK(gb.data()[1] == 0.0f);  // negative gradient cut
  CHECK(gb.data()[2] == 0.0f);  // clipped
}

}  // TEST_SUITE
