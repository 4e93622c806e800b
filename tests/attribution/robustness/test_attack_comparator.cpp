// compare_attacks (attribution/robustness/attack_comparator.h): rows per perturbation with
// accuracy, label probability and explanation fragility, on the embedded shapes model.
#include <doctest/doctest.h>

#include "attribution/robustness/attack.h"
#include "attribution/robustness/attack_comparator.h"
#include "engine/error.h"
#include "models/default_model.h"

using namespace backlight;

namespace {
Tensor two_images(std::vector<int64_t>& labels) {
  const auto imgs = default_images();
  const Tensor& a = imgs.at(0).sample.image;
  Tensor x = Tensor::empty({2, a.size(0), a.size(1), a.size(2)});
  for (int i = 0; i < 2; ++i) {
    const Tensor& im = imgs.at(size_t(i)).sample.image;
    std::copy(im.data(), im.data() + im.numel(), x.data() + i * im.numel());
    labels.push_back(imgs.at(size_t(i)).sample.label);
  }
  return x;
}
}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("compare_attacks: identity keeps everything, a strong attack drops accuracy, fragility in range") {
  const ModulePtr model = default_model();
  std::vector<int64_t> labels;
  const Tensor x = two_images(labels);
  const std::vector<NamedPerturbation> list = {
      {"identity", [](const Tensor& in) { return in.clone(); }},
      {"fgsm 0.1",
       [&](const Tensor& in) {
         return fgsm(*model, in, 0.1f, Target::indices(labels), {.lower_bound = 0, .upper_bound = 1}).adversarial;
       }},
      {"fgsm 0.001 x3",
       [&](const Tensor& in) {
         return fgsm(*model, in, 0.001f, Target::indices(labels), {.lower_bound = 0, .upper_bound = 1}).adversarial;
       },
       3}};
  const auto rows = compare_attacks(*model, x, labels, list, {.method = "saliency"});
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].name == "original");
  CHECK(rows[0].accuracy == 1.0);  // the embedded model gets its built-in images right
  CHECK(rows[1].accuracy == rows[0].accuracy);
  CHECK(rows[1].label_probability == doctest::Approx(rows[0].label_probability));
  CHECK(*rows[1].top_k_intersection == 1.0);
  CHECK(*rows[1].spearman == doctest::Approx(1.0));
  CHECK(rows[2].accuracy < rows[0].accuracy);
  CHECK(rows[2].label_probability < rows[0].label_probability);
  CHECK(*rows[2].spearman < *rows[3].spearman);  // a larger attack moves the map more
  CHECK(*rows[3].top_k_intersection <= 1.0);
  CHECK(*rows[3].top_k_intersection > 0.0);
  const auto plain = compare_attacks(*model, x, labels, {list[0]});
  CHECK_FALSE(plain[1].spearman.has_value());
  CHECK_THROWS_WITH_AS(
      compare_attacks(*model, x, labels, {{"crop", [](const Tensor&) { return Tensor::zeros({2, 3, 8, 8}); }}}),
      doctest::Contains("perturbation 'crop' returned"), Error);
  CHECK_THROWS_WITH_AS(compare_attacks(*model, x, {0, 9}, {}), doctest::Contains("label 9"), Error);
}

}  // TEST_SUITE
