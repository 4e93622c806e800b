// `backlight methods`, `backlight rules`, `backlight models`: what exists, one line each, with
// parameters - generated from the same tables the library uses (methods(), builtin_rule_sets(),
// zoo_models()), so the listings never drift from the code.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "attribution/registry.h"
#include "engine/rules/builtin_sets.h"
#include "models/zoo.h"
#include "tools/commands/command.h"

namespace backlight::cli {
namespace {

int run_methods(const Args&) {
  // Grouped by family, families in order of first appearance.
  std::vector<MethodInfo> all = methods();
  std::vector<std::string> order;
  for (const MethodInfo& m : all)
    if (std::find(order.begin(), order.end(), m.family) == order.end()) order.push_back(m.family);
  std::stable_sort(all.begin(), all.end(), [&](const MethodInfo& a, const MethodInfo& b) {
    return std::find(order.begin(), order.end(), a.family) < std::find(order.begin(), order.end(), b.family);
  });
  std::string family;
  for (const MethodInfo& m : all) {
    if (m.family != family) std::cout << (family.empty() ? "" : "\n") << "[" << (family = m.family) << "]\n";
    std::cout << "  " << std::left << std::setw(30) << m.name << m.description;
    if (!m.options.empty()) std::cout << "  (options: " << m.options << ")";
    if (m.needs_layer) std::cout << "  [needs --layer]";
    if (m.needs_neuron) std::cout << "  [needs --neuron]";
    std::cout << "\n";
  }
  std::cout << "\nAny method can be wrapped with --noise-tunnel smoothgrad|smoothgrad_sq|vargrad.\n";
  return 0;
}

int run_rules(const Args&) {
  for (const NamedRuleSet& r : builtin_rule_sets()) {
    std::cout << std::left << std::setw(32) << r.name << r.description
              << (r.needs_reference ? " [paired reference pass]" : "") << "\n";
    for (const RuleParamInfo& p : r.params)
      std::cout << "    --rule-param " << p.name << "=" << p.default_value << "   " << p.description << "\n";
  }
  return 0;
}

int run_models(const Args&) {
  std::cout << std::left << std::setw(16) << "shapes_cnn"
            << "embedded default model (synthetic shapes, 4 classes, trained weights)  input [3,64,64]\n";
  for (const ModelInfo& m : zoo_models()) {
    std::cout << std::left << std::setw(16) << m.name << m.description << "  input [";
    for (size_t i = 0; i < m.input.size(); ++i) std::cout << (i ? "," : "") << m.input[i];
    std::cout << "]" << (m.flexible_input ? " (flexible)" : "") << ", " << m.num_classes << " classes\n";
  }
  return 0;
}

}  // namespace

Command methods_command() {
  return {.name = "methods", .summary = "list the attribution methods (--method NAME)", .run = run_methods};
}
Command rules_command() {
  return {.name = "rules", .summary = "list the rule sets and their parameters (--rules, --rule-param)", .run = run_rules};
}
Command models_command() {
  return {.name = "models", .summary = "list the zoo models (--model NAME)", .run = run_models};
}

}  // namespace backlight::cli
