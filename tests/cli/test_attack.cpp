// `backlight attack` end to end on the embedded model: the saved adversarial input matches the
// library's FGSM/PGD and keeps the ball and the bounds; JSON, picture, exit statuses.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attribution/robustness/attack.h"
#include "attribution/robustness/min_param.h"
#include "io/npy.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"

using namespace backlight;
using backlight::cli::load_npy;
using backlight::test::contains;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::TempDir;

namespace {
Tensor builtin_input() {
  const Tensor chw = default_images().at(0).sample.image;
  return chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone();
}
}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/attack: fgsm --save equals the library's FGSM; --json reports the flip") {
  TempDir dir("attack_fgsm");
  const Run r = run_cli("attack --epsilon 0.05 --json --out '" + dir.file("a.png") + "' --save '" + dir.file("a.npy") +
                        "'", true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["attack"] == "fgsm");
  CHECK(j["target"] == j["original"]["prediction"]);
  CHECK(std::fabs(j["linf"].get<double>() - 0.05) < 1e-6);
  const Tensor saved = load_npy(dir.file("a.npy"));
  const Tensor x = builtin_input();
  CHECK(saved.shape() == x.shape());
  const Tensor expect = fgsm(*default_model(), x, 0.05f, Target::top1(), {.lower_bound = 0, .upper_bound = 1}).adversarial;
  BL_CHECK_CLOSE(saved, expect, 0, 0);
  CHECK(j["success"] == (j["adversarial"]["prediction"] != j["target"]));
  const Tensor png = backlight::test::decode_png(dir.file("a.png"));
  CHECK(png.size(2) > 3 * png.size(1) / 2);  // three panels side by side
}

TEST_CASE("cli/attack: targeted pgd (l2) moves towards --target inside the ball and the bounds") {
  TempDir dir("attack_pgd");
  const Run r = run_cli("attack --attack pgd --norm l2 --epsilon 2 --step-size 0.02 --steps 15 --target 2 --targeted "
                        "--json --save '" + dir.file("p.npy") + "'", true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["norm"] == "l2");
  CHECK(j["l2"].get<double>() <= 2 * (1 + 1e-5));
  CHECK(j["adversarial"]["target_probability"].get<double>() > j["original"]["target_probability"].get<double>());
  const Tensor saved = load_npy(dir.file("p.npy"));
  for (float v : saved.span()) CHECK((v >= 0 && v <= 1));
}

TEST_CASE("cli/attack: usage errors exit 2, runtime errors 1, help lists the flags") {
  CHECK(run_cli("attack").status == 2);
  CHECK(run_cli("attack --epsilon 0.1 --attack cw").status == 2);
  CHECK(run_cli("attack --epsilon 0.1 --steps 3").status == 2);  // pgd only
  CHECK(run_cli("attack --epsilon 0.1 --targeted").status == 2);
  CHECK(run_cli("attack --epsilon 0.1 --lower-bound 1 --upper-bound 0").status == 2);
  const Run missing = run_cli("attack --epsilon 0.1 --input /nonexistent/x.npy");
  CHECK(missing.status == 1);
  const Run cls = run_cli("attack --epsilon 0.1 --target 9");  // a class out of range: runtime, as explain
  CHECK(cls.status == 1);
  CHECK(contains(cls.output, "0..3"));
  CHECK(contains(missing.output, "/nonexistent/x.npy"));
  const Run help = run_cli("attack --help", true);
  CHECK(help.status == 0);
  for (const char* f : {"--epsilon", "--step-size", "--steps", "--norm", "--random-start", "--lower-bound",
                        "--upper-bound", "--target", "--targeted", "--save", "--explain"})
    CHECK(contains(help.output, f));
}

TEST_CASE("cli/attack: --min-param epsilon equals the library's MinParamPerturbation (linear and binary)") {
  const Tensor x = builtin_input();
  const ModulePtr model = default_model();
  const MinParamResult lib = min_param_perturbation(
      *model, x,
      [&](const Tensor& in, double eps) {
        return fgsm(*model, in, float(eps), Target::top1(), {.lower_bound = 0, .upper_bound = 1}).adversarial;
      },
      Target::top1(), {.arg_min = 0, .arg_max = 0.2, .arg_step = 0.005});
  REQUIRE(lib.param.has_value());
  for (const char* mode : {"linear", "binary"}) {
    CAPTURE(mode);
    const Run r = run_cli(std::string("attack --min-param epsilon --range 0:0.2:0.005 --search ") + mode + " --json", true);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const auto j = nlohmann::json::parse(r.output);
    CHECK(j["min_param"]["value"].get<double>() == doctest::Approx(*lib.param));
    CHECK(j["epsilon"].get<double>() == doctest::Approx(*lib.param));
    CHECK(j["success"] == true);
    if (std::string(mode) == "binary") CHECK(j["min_param"]["evaluations"].get<int>() < 10);
  }
  const Run none = run_cli("attack --min-param epsilon --range 0:0.002:0.001 --json", true);
  REQUIRE_MESSAGE(none.status == 0, none.output);
  CHECK(nlohmann::json::parse(none.output)["min_param"]["value"].is_null());
  CHECK(run_cli("attack --min-param epsilon").status == 2);                          // no --range
  CHECK(run_cli("attack --min-param step --range 0:1:0.1").status == 2);
  CHECK(run_cli("attack --min-param epsilon --range 0:0.1:0.2").status == 2);        // HI <= LO + STEP
  CHECK(run_cli("attack --min-param epsilon --range 0:1:0.1 --epsilon 0.1").status == 2);
  CHECK(run_cli("attack --epsilon 0.1 --search binary").status == 2);
}

TEST_CASE("cli/attack: --explain reports explanation fragility next to sensitivity-max") {
  const Run small = run_cli("attack --epsilon 0.001 --explain saliency --json", true);
  const Run big = run_cli("attack --attack pgd --epsilon 0.05 --steps 10 --explain saliency --json", true);
  REQUIRE_MESSAGE(small.status == 0, small.output);
  REQUIRE_MESSAGE(big.status == 0, big.output);
  const auto s = nlohmann::json::parse(small.output)["explanation_robustness"];
  const auto b = nlohmann::json::parse(big.output)["explanation_robustness"];
  CHECK(s["method"] == "saliency");
  for (const char* k : {"top_k_intersection", "spearman", "sensitivity_max", "top_k"}) CHECK(s.contains(k));
  CHECK(s["top_k"].get<int>() == 64 * 64 / 10);
  // A larger perturbation moves the saliency map more.
  CHECK(s["top_k_intersection"].get<double>() > b["top_k_intersection"].get<double>());
  CHECK(s["spearman"].get<double>() > b["spearman"].get<double>());
  CHECK(s["spearman"].get<double>() <= 1.0);
}


TEST_CASE("cli/attack: --compare reports accuracy and fragility per perturbation") {
  const Run r = run_cli("attack --compare fgsm:0.001,pgd:0.05,noise:0.02 --steps 5 --explain saliency --json", true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto rows = nlohmann::json::parse(r.output)["comparison"];
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["name"] == "original");
  CHECK(rows[0]["accuracy"].get<double>() == 1.0);
  CHECK(rows[2]["name"] == "pgd:0.05");
  CHECK(rows[2]["accuracy"].get<double>() == 0.0);
  CHECK(rows[1]["spearman"].get<double>() > rows[2]["spearman"].get<double>());
  CHECK(run_cli("attack --compare fgsm").status == 2);
  CHECK(run_cli("attack --compare cw:0.1").status == 2);
  CHECK(run_cli("attack --compare fgsm:0.1 --epsilon 0.1").status == 2);
}

}
