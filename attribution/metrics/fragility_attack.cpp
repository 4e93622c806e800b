#include "attribution/metrics/fragility_attack.h"

#include <algorithm>
#include <cmath>

#include "attribution/metrics/fragility_topk.h"
#include "attribution/metrics/scoring.h"
#include "attribution/robustness/attack.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

FragilityAttack fragility_attack_from_string(std::string_view name) {
  if (name == "random_sign") return FragilityAttack::RandomSign;
  if (name == "fgsm") return FragilityAttack::Fgsm;
  if (name == "pgd") return FragilityAttack::Pgd;
  if (name == "topk") return FragilityAttack::TopK;
  BL_THROW("fragility: unknown attack '", name, "' (accepted: random_sign, fgsm, pgd, topk)");
}

std::string to_string(FragilityAttack a) {
  switch (a) {
    case FragilityAttack::RandomSign: return "random_sign";
    case FragilityAttack::Fgsm: return "fgsm";
    case FragilityAttack::Pgd: return "pgd";
    case FragilityAttack::TopK: return "topk";
  }
  return "?";
}

Tensor fragility_perturbation(const Module& model, const Tensor& inputs, const std::vector<int64_t>& classes,
                              const FragilityOptions& o) {
  BL_CHECK(o.epsilon >= 0 && std::isfinite(o.epsilon), "fragility: expected epsilon >= 0, got ", o.epsilon);
  BL_CHECK(o.lower_bound <= o.upper_bound, "fragility: expected lower_bound <= upper_bound, got ", o.lower_bound,
           " and ", o.upper_bound);
  BL_CHECK(o.attack != FragilityAttack::TopK, "fragility_perturbation: the topk attack needs the explained method; "
           "use attack_fragility or topk_attack (attribution/metrics/fragility_topk.h)");
  if (o.attack == FragilityAttack::RandomSign) {
    Tensor x = Tensor::empty(inputs.shape());
    for (int64_t k = 0; k < inputs.numel(); ++k) {
      const float s = philox::uniform(o.seed, 0, static_cast<uint64_t>(k)) < 0.5f ? -1.0f : 1.0f;
      x.data()[k] = std::clamp(inputs.data()[k] + o.epsilon * s, o.lower_bound, o.upper_bound);
    }
    return x;
  }
  const Target t = Target::indices(classes);
  if (o.attack == FragilityAttack::Fgsm)
    return fgsm(model, inputs, o.epsilon, t, {.lower_bound = o.lower_bound, .upper_bound = o.upper_bound}).adversarial;
  BL_CHECK(o.steps >= 1, "fragility: expected pgd steps >= 1, got ", o.steps);
  return pgd(model, inputs, o.epsilon, t,
             {.step_size = o.step_size > 0 ? o.step_size : o.epsilon / 4, .step_num = o.steps,
              .lower_bound = o.lower_bound, .upper_bound = o.upper_bound})
      .adversarial;
}

FragilityResult attack_fragility(std::string_view method, const Module& model, const Tensor& inputs,
                                 const Target& target, const MethodOptions& method_options, const FragilityOptions& o) {
  BL_CHECK(o.top_k > 0 || (o.top_k_fraction > 0 && o.top_k_fraction <= 1),
           "fragility: expected top_k > 0 or top_k_fraction in (0, 1], got ", o.top_k, " and ", o.top_k_fraction);
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Target fixed = target.is_function() ? target : Target::indices(classes);
  const std::string name(method);
  const Tensor a = attribute(name, model, inputs, fixed, method_options).attribution;
  // Positions per item: the map without its channel axis (rank >= 3), as explanation_fragility.
  const int64_t n = std::max<int64_t>(a.size(0), 1), per = a.numel() / n;
  const int64_t positions = a.dim() >= 3 ? per / a.size(1) : per;
  const int64_t k = o.top_k > 0 ? o.top_k
                                : std::max<int64_t>(1, std::llround(o.top_k_fraction * static_cast<double>(positions)));
  if (o.attack == FragilityAttack::TopK) {
    BL_CHECK(o.epsilon >= 0 && std::isfinite(o.epsilon), "fragility: expected epsilon >= 0, got ", o.epsilon);
    const TopKAttackResult t = topk_attack(method, model, inputs, fixed, k, method_options, o);
    FragilityResult r = explanation_fragility(a, attribute(name, model, t.adversarial, fixed, method_options).attribution, k);
    r.kept_input = t.kept_input;
    return r;
  }
  const Tensor b = attribute(name, model, fragility_perturbation(model, inputs, classes, o), fixed, method_options)
                       .attribution;
  return explanation_fragility(a, b, k);
}

}  // namespace backlight
