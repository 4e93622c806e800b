// FGSM and PGD: parity with Captum 0.8's captum.robust (fixture:
// tools/reference/make_robust_fixtures.py), and the guarantees every attack must keep (norm
// ball, bounds, step sizes, direction of the loss, seeded random start, errors).
#include <cmath>

#include "attribution/robustness/attack.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const SafeTensorsFile& robust_fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/robust_parity.safetensors");
  return f;
}

Tensor robust_tensor(const std::string& name) {
  const Tensor* t = robust_fixture().find(name);
  REQUIRE_MESSAGE(t, "fixture has no tensor ", name);
  return *t;
}

ModulePtr robust_cnn() {
  std::mt19937_64 rng(1);
  auto m = std::make_shared<PerturbationCnn>(rng);
  for (const auto& [name, value] : m->state_dict()) {
    CAPTURE(name);
    REQUIRE(m->set_tensor(name, robust_tensor(name)));
  }
  return m;
}

const Target kTarget = Target::indices({1, 3, 0});

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(double(a.data()[i]) - b.data()[i]));
  return m;
}

double item_l2(const Tensor& a, const Tensor& b, int64_t item) {
  const int64_t per = a.numel() / a.size(0);
  double s = 0;
  for (int64_t i = item * per; i < (item + 1) * per; ++i) s += std::pow(double(a.data()[i]) - b.data()[i], 2);
  return std::sqrt(s);
}

double summed_loss(const Module& m, const Tensor& x, const std::vector<int64_t>& t) {
  Tape tape(TapeOptions{.record = false});
  const Tensor z = m.forward(tape.input(x)).value();
  double loss = 0;
  for (int64_t b = 0; b < z.size(0); ++b) {
    const float* r = z.data() + b * z.size(1);
    double mx = r[0], s = 0;
    for (int64_t k = 1; k < z.size(1); ++k) mx = std::max(mx, double(r[k]));
    for (int64_t k = 0; k < z.size(1); ++k) s += std::exp(r[k] - mx);
    loss += std::log(s) + mx - r[t[size_t(b)]];
  }
  return loss;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("robust: the fixture CNN's logits equal PyTorch") {
    Tape t(TapeOptions{.record = false});
    BL_CHECK_CLOSE(robust_cnn()->forward(t.input(robust_tensor("input"))).value(), robust_tensor("logits"), 1e-5,
                   1e-5);
  }

  TEST_CASE("robust: FGSM equals Captum's FGSM (untargeted, targeted, bounded)") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    BL_CHECK_CLOSE(fgsm(*m, x, 0.05f, kTarget).adversarial, robust_tensor("fgsm/untargeted"), 1e-5, 0);
    BL_CHECK_CLOSE(fgsm(*m, x, 0.05f, Target::index(2), {.targeted = true}).adversarial,
                   robust_tensor("fgsm/targeted"), 1e-5, 0);
    BL_CHECK_CLOSE(fgsm(*m, x, 0.1f, kTarget, {.lower_bound = 0, .upper_bound = 1}).adversarial,
                   robust_tensor("fgsm/bounded"), 1e-5, 0);
  }

  TEST_CASE("robust: PGD equals Captum's PGD (Linf and L2, targeted, bounded; no random start)") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    BL_CHECK_CLOSE(pgd(*m, x, 0.1f, kTarget, {.step_size = 0.02f, .step_num = 7}).adversarial,
                   robust_tensor("pgd/linf"), 1e-5, 0);
    BL_CHECK_CLOSE(pgd(*m, x, 0.08f, Target::index(4),
                       {.step_size = 0.03f, .step_num = 5, .targeted = true, .lower_bound = 0, .upper_bound = 1})
                       .adversarial,
                   robust_tensor("pgd/linf_targeted_bounded"), 1e-5, 0);
    BL_CHECK_CLOSE(pgd(*m, x, 0.3f, kTarget, {.step_size = 0.02f, .step_num = 6, .norm = AttackNorm::L2}).adversarial,
                   robust_tensor("pgd/l2"), 1e-5, 0);
    BL_CHECK_CLOSE(pgd(*m, x, 0.5f, Target::indices({2, 2, 4}),
                       {.step_size = 0.05f, .step_num = 4, .norm = AttackNorm::L2, .targeted = true,
                        .lower_bound = 0.1f, .upper_bound = 0.9f})
                       .adversarial,
                   robust_tensor("pgd/l2_bounded_targeted"), 1e-5, 0);
  }

  TEST_CASE("robust: FGSM moves every element by epsilon (or not at all) and keeps the bounds") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    const Tensor a = fgsm(*m, x, 0.05f, kTarget).adversarial;
    int64_t moved = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double d = std::fabs(double(a.data()[i]) - x.data()[i]);
      CHECK((d < 1e-7 || std::fabs(d - 0.05) < 1e-6));
      moved += d > 1e-7;
    }
    CHECK(moved > x.numel() / 2);
    const Tensor b = fgsm(*m, x, 0.3f, kTarget, {.lower_bound = 0.2f, .upper_bound = 0.7f}).adversarial;
    for (float v : b.span()) CHECK((v >= 0.2f && v <= 0.7f));
    CHECK(summed_loss(*m, a, {1, 3, 0}) > summed_loss(*m, x, {1, 3, 0}));
  }

  TEST_CASE("robust: PGD stays in the epsilon ball and the bounds, raises (untargeted) or lowers (targeted) the loss") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    const std::vector<int64_t> t{1, 3, 0};
    for (bool random_start : {false, true}) {
      CAPTURE(random_start);
      const Tensor li = pgd(*m, x, 0.05f, kTarget, {.step_size = 0.02f, .step_num = 10, .random_start = random_start,
                                                    .seed = 3, .lower_bound = 0, .upper_bound = 1})
                            .adversarial;
      CHECK(max_abs_diff(li, x) <= 0.05 + 1e-6);
      CHECK(max_abs_diff(li, x) > 0.04);
      for (float v : li.span()) CHECK((v >= 0 && v <= 1));
      CHECK(summed_loss(*m, li, t) > summed_loss(*m, x, t));
      const Tensor l2 =
          pgd(*m, x, 0.4f, kTarget, {.step_size = 0.05f, .step_num = 10, .norm = AttackNorm::L2,
                                     .random_start = random_start, .seed = 3})
              .adversarial;
      for (int64_t b = 0; b < x.size(0); ++b) {
        CHECK(item_l2(l2, x, b) <= 0.4 * (1 + 1e-5));
        CHECK(item_l2(l2, x, b) > 0.3);  // the ball is small for these steps: PGD reaches its surface
      }
      const std::vector<int64_t> goal{4, 4, 4};
      const Tensor tg = pgd(*m, x, 0.2f, Target::index(4),
                            {.step_size = 0.02f, .step_num = 10, .targeted = true, .random_start = random_start})
                            .adversarial;
      CHECK(summed_loss(*m, tg, goal) < summed_loss(*m, x, goal));
    }
  }

  TEST_CASE("robust: PGD random start repeats with its seed and changes with another") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    for (AttackNorm norm : {AttackNorm::Linf, AttackNorm::L2}) {
      const PgdOptions o{.step_size = 0.01f, .step_num = 1, .norm = norm, .random_start = true, .seed = 7};
      PgdOptions other = o;
      other.seed = 8;
      const Tensor a = pgd(*m, x, 0.1f, kTarget, o).adversarial;
      CHECK(max_abs_diff(a, pgd(*m, x, 0.1f, kTarget, o).adversarial) == 0);
      CHECK(max_abs_diff(a, pgd(*m, x, 0.1f, kTarget, other).adversarial) > 1e-4);
      // zero steps: the random point itself, inside the ball
      PgdOptions start = o;
      start.step_num = 0;
      const Tensor s = pgd(*m, x, 0.1f, kTarget, start).adversarial;
      if (norm == AttackNorm::Linf) CHECK(max_abs_diff(s, x) <= 0.1 + 1e-6);
      else
        for (int64_t b = 0; b < x.size(0); ++b) CHECK(item_l2(s, x, b) <= 0.1 + 1e-6);
      CHECK(max_abs_diff(s, x) > 0);
    }
  }

  TEST_CASE("robust: the default target is the predicted class") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    const AttackResult r = fgsm(*m, x, 0.05f, Target::top1());
    const Tensor z = robust_tensor("logits");
    for (int64_t b = 0; b < 3; ++b) {
      const float* row = z.data() + b * z.size(1);
      CHECK(r.target[size_t(b)] == std::max_element(row, row + z.size(1)) - row);
    }
    BL_CHECK_CLOSE(r.adversarial, fgsm(*m, x, 0.05f, Target::indices(r.target)).adversarial, 0, 0);
  }

  TEST_CASE("robust: bad arguments throw naming the argument") {
    const ModulePtr m = robust_cnn();
    const Tensor x = robust_tensor("input");
    CHECK_THROWS_WITH_AS(fgsm(*m, x, -1.0f, kTarget), doctest::Contains("epsilon"), Error);
    CHECK_THROWS_WITH_AS(fgsm(*m, x, 0.1f, kTarget, {.lower_bound = 1, .upper_bound = 0}),
                         doctest::Contains("lower_bound"), Error);
    CHECK_THROWS_WITH_AS(pgd(*m, x, 0.1f, kTarget, {.step_num = -1}), doctest::Contains("step_num"), Error);
    CHECK_THROWS_WITH_AS(pgd(*m, x, 0.1f, Target::function([](const Var& v) { return v; })),
                         doctest::Contains("function targets"), Error);
    CHECK_THROWS_WITH_AS(fgsm(*m, x, 0.1f, Target::index(9)), doctest::Contains("9"), Error);
    CHECK_THROWS_WITH_AS(attack_norm_from_string("l1"), doctest::Contains("linf or l2"), Error);
  }
}
