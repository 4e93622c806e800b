// MinParamPerturbation: parity with Captum 0.8 (the smallest FGSM epsilon on a grid, linear and
// binary search; fixture tools/reference/make_robust_fixtures.py) and the search's contract.
#include "attribution/robustness/attack.h"
#include "attribution/robustness/min_param.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/robust_parity.safetensors");
  return f;
}

Tensor tensor(const std::string& name) {
  const Tensor* t = fixture().find(name);
  REQUIRE_MESSAGE(t, "fixture has no tensor ", name);
  return *t;
}

ModulePtr cnn() {
  std::mt19937_64 rng(1);
  auto m = std::make_shared<PerturbationCnn>(rng);
  for (const auto& [name, value] : m->state_dict()) REQUIRE(m->set_tensor(name, tensor(name)));
  return m;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("min_param: the smallest FGSM epsilon equals Captum's MinParamPerturbation (linear, binary)") {
    const ModulePtr m = cnn();
    const Tensor x = tensor("input");
    for (const char* mode : {"linear", "binary"})
      for (int64_t item = 0; item < 3; ++item) {
        CAPTURE(mode);
        CAPTURE(item);
        const Tensor xi = x.slice_batch(item, item + 1).clone();
        const ParamPerturbation attack = [&](const Tensor& in, double eps) {
          return fgsm(*m, in, float(eps), Target::top1(), {.lower_bound = 0, .upper_bound = 1}).adversarial;
        };
        const MinParamResult r = min_param_perturbation(
            *m, xi, attack, Target::top1(),
            {.arg_min = 0, .arg_max = 0.4, .arg_step = 0.005, .mode = min_param_mode_from_string(mode)});
        const double expect = tensor(std::string("min_param/") + mode + "/" + std::to_string(item)).data()[0];
        REQUIRE(r.param.has_value());
        CHECK(*r.param == doctest::Approx(expect).epsilon(1e-9));
        BL_CHECK_CLOSE(r.perturbed, attack(xi, *r.param), 0, 0);
      }
  }

  TEST_CASE("min_param: linear and binary agree on a monotone perturbation; binary needs fewer evaluations") {
    const ModulePtr m = cnn();
    const Tensor all = tensor("input");
    const Tensor x = all.slice_batch(0, 1).clone();
    // Blend towards another fixture input that the model classifies differently: at a = 1 the
    // answer has changed.
    const Tensor z = tensor("logits");
    auto argmax = [&](int64_t b) { return std::max_element(z.data() + b * 5, z.data() + b * 5 + 5) - (z.data() + b * 5); };
    int64_t other = argmax(1) != argmax(0) ? 1 : 2;
    REQUIRE(argmax(other) != argmax(0));
    const Tensor y = all.slice_batch(other, other + 1).clone();
    const ParamPerturbation blend = [&](const Tensor& in, double a) {
      Tensor out = in.clone();
      for (int64_t i = 0; i < out.numel(); ++i) out.data()[i] = float((1 - a) * in.data()[i] + a * y.data()[i]);
      return out;
    };
    const MinParamResult lin = min_param_perturbation(*m, x, blend, Target::top1(),
                                                      {.arg_min = 0, .arg_max = 1.0001, .arg_step = 0.01});
    const MinParamResult bin = min_param_perturbation(
        *m, x, blend, Target::top1(),
        {.arg_min = 0, .arg_max = 1.0001, .arg_step = 0.01, .mode = MinParamMode::Binary});
    CAPTURE(lin.param.value_or(-1));
    CHECK(lin.param.has_value());  // the other input replaces it at a = 1
    if (lin.param) {
      // binary search assumes monotonicity; it finds a grid value no smaller than linear's first flip
      REQUIRE(bin.param.has_value());
      CHECK(*bin.param >= *lin.param - 1e-12);
      if (*lin.param > 0.1) CHECK(bin.evaluations < lin.evaluations);
    }
    // A perturbation that changes nothing never flips: no parameter, every grid value tried.
    const MinParamResult none = min_param_perturbation(
        *m, x, [](const Tensor& in, double) { return in.clone(); }, Target::top1(),
        {.arg_min = 0, .arg_max = 1, .arg_step = 0.25});
    CHECK(!none.param.has_value());
    CHECK(!none.perturbed.defined());
    CHECK(none.evaluations == 4);
  }

  TEST_CASE("min_param: bad ranges and modes throw naming the argument") {
    const ModulePtr m = cnn();
    const Tensor x = tensor("input");
    const ParamPerturbation id = [](const Tensor& in, double) { return in.clone(); };
    CHECK_THROWS_WITH_AS(min_param_perturbation(*m, x, id, Target::top1(), {.arg_min = 0, .arg_max = 0.1, .arg_step = 0.1}),
                         doctest::Contains("arg_max"), Error);
    CHECK_THROWS_WITH_AS(min_param_perturbation(*m, x, id, Target::top1(), {.arg_step = 0}), doctest::Contains("arg_step"),
                         Error);
    CHECK_THROWS_WITH_AS(min_param_mode_from_string("ternary"), doctest::Contains("linear or binary"), Error);
  }
}
