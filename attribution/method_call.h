#pragma once
/// How the registry calls a method: one generic builder fills a method's own options struct from
/// the flat MethodOptions by the struct's field names, and one adapter calls the method with the
/// arguments its signature asks for (target, neuron, or both). So a registry entry is only the
/// method's description and `call<&method>` (attribution/registry.cpp).
///
/// Field conventions (every family's options struct uses them; a method with a new kind of option
/// adds it to MethodOptions and one line here):
///   layer, steps, method (integration), seed, workspace,
///   multiply_by_inputs                                        copied
///   baselines: std::vector<Baseline> copied; Tensor = the distribution of the baselines
///   baseline (one Baseline)                                   the first baseline (zero when none)
///   samples, masks (RISE), stdev                              when set (> 0, >= 0); else the method's default
///   internal_batch_size, perturbations_per_eval,
///   masks_per_eval                                            MethodOptions::batch (0: the method's default)
///   batch (Score-CAM)                                         MethodOptions::batch when set (> 0)
///   rules (a name), params                                    the rule set when named, its parameters
///   feature_mask                                              the window grid (default_window without --window)
///   features (LIME, KernelSHAP)                               the window grid only with --window (else SLIC)
///   window + stride (occlusion)                               the window, default stride half a window
#include <concepts>
#include <string>
#include <tuple>
#include <type_traits>

#include "attribution/core/neuron.h"
#include "attribution/core/result.h"
#include "attribution/core/rows.h"
#include "attribution/core/target.h"
#include "attribution/method_options.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/module.h"

namespace backlight::method_call {

/// Registry defaults that differ from the library's (one overload per options struct that has one).
template <class T>
void registry_defaults(T&) {}

/// The method's options struct T filled from `o` (see the conventions above); `x` the inputs.
template <class T>
T build(const MethodOptions& o, const Tensor& x) {
  T t{};
  registry_defaults(t);
  if constexpr (requires { t.layer = o.layer; }) t.layer = o.layer;
  if constexpr (requires { t.steps = o.steps; }) t.steps = o.steps;
  if constexpr (requires { t.method = o.integration; }) t.method = o.integration;
  if constexpr (requires { t.seed = o.seed; }) t.seed = o.seed;
  if constexpr (requires { t.workspace = o.workspace; }) t.workspace = o.workspace;
  if constexpr (requires { t.multiply_by_inputs = o.multiply_by_inputs; }) t.multiply_by_inputs = o.multiply_by_inputs;
  if constexpr (requires { t.baselines; }) {
    if constexpr (std::is_same_v<decltype(t.baselines), Tensor>)
      t.baselines = baseline_distribution(o.baselines, x);
    else
      t.baselines = o.baselines;
  }
  if constexpr (requires { t.baseline = Baseline::zero(); })
    t.baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0];
  if constexpr (requires { t.samples = o.samples; })
    if (o.samples > 0) t.samples = o.samples;
  if constexpr (requires { t.masks = o.samples; })
    if (o.samples > 0) t.masks = o.samples;
  if constexpr (requires { t.stdev = o.stdev; })
    if (o.stdev >= 0) t.stdev = o.stdev;
  if constexpr (requires { t.internal_batch_size = o.batch; }) t.internal_batch_size = o.batch;
  if constexpr (requires { t.perturbations_per_eval = o.batch; }) t.perturbations_per_eval = o.batch;
  if constexpr (requires { t.masks_per_eval = o.batch; }) t.masks_per_eval = o.batch;
  if constexpr (requires { t.batch = o.batch; })
    if (o.batch > 0) t.batch = o.batch;
  if constexpr (requires { t.params = o.rule_params; }) t.params = o.rule_params;
  if constexpr (requires { t.base_method = o.base_method; }) t.base_method = o.base_method;
  if constexpr (requires { t.rules = o.rules; })
    if (!o.rules.empty()) t.rules = o.rules;
  if constexpr (requires { t.window; t.stride; }) {  // occlusion: default window and half-window stride
    t.window = o.window.empty() ? default_window(x.shape()) : o.window;
    t.stride = o.stride;
    if (t.stride.empty() && o.window.empty())
      for (int64_t v : t.window) t.stride.push_back((v + 1) / 2);
  } else if constexpr (requires { t.feature_mask = Tensor(); }) {
    t.feature_mask = window_grid_mask(x.shape(), o.window.empty() ? default_window(x.shape()) : o.window);
  } else if constexpr (requires { t.features.feature_mask = Tensor(); }) {
    if (!o.window.empty()) t.features.feature_mask = window_grid_mask(x.shape(), o.window);
  }
  return t;
}

/// The neuron of a neuron method: the selector function when given, else the index.
inline Neuron neuron_of(const MethodOptions& o) {
  return o.neuron_selector ? Neuron::select(o.layer, o.neuron_selector) : Neuron::at(o.layer, o.neuron);
}

/// The options struct of a method: the type of its last parameter.
template <class F>
struct options_of;
template <class... A>
struct options_of<AttributionResult (*)(A...)> {
  using type = std::remove_cvref_t<std::tuple_element_t<sizeof...(A) - 1, std::tuple<A...>>>;
};

/// Calls method F with the arguments its signature takes: (model, x, target, options),
/// (model, x, neuron, options) or (model, x, neuron, target, options).
template <auto F>
AttributionResult call(const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
  using Opt = typename options_of<decltype(F)>::type;
  const Opt opt = build<Opt>(o, x);
  if constexpr (std::is_invocable_v<decltype(F), const Module&, const Tensor&, const Target&, const Opt&>)
    return F(m, x, t, opt);
  else if constexpr (std::is_invocable_v<decltype(F), const Module&, const Tensor&, const Neuron&, const Opt&>)
    return F(m, x, neuron_of(o), opt);
  else
    return F(m, x, neuron_of(o), t, opt);
}

}  // namespace backlight::method_call
