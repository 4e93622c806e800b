#include "attribution/metrics/randomisation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attribution/metrics/faithfulness.h"
#include "attribution/metrics/scoring.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + j);
    for (size_t k = i; k <= j; ++k) r[idx[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}

// One item's map as the values to rank.
std::vector<double> flat_map(const Tensor& a, int64_t i, const RandomisationOptions& o) {
  const int64_t n = a.size(0), per = a.numel() / n;
  const bool sum = o.channel_sum && a.dim() == 4;
  const int64_t c = sum ? a.size(1) : 1, len = per / c;
  std::vector<double> v(static_cast<size_t>(len), 0.0);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < len; ++j) v[j] += a.data()[i * per + ch * len + j];
  if (o.absolute)
    for (double& x : v) x = std::fabs(x);
  return v;
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) { return pearson(ranks(a), ranks(b)); }

std::vector<std::string> parameter_layers_top_down(const Module& model) {
  std::vector<std::string> layers;
  for (const auto& [path, m] : model.named_modules()) {
    const std::string prefix = path.empty() ? "" : path + ".";
    for (const auto& [name, t] : m->named_parameters()) {
      if (name.find('.', prefix.size()) == std::string::npos) {  // local to m, not a descendant's
        layers.push_back(path);
        break;
      }
    }
  }
  std::reverse(layers.begin(), layers.end());
  return layers;
}

void randomise_layer(Module& work, const std::string& layer, uint64_t seed, uint64_t stream) {
  const Module* m = work.find(layer);
  BL_CHECK(m != nullptr, "randomise_layer: no module '", layer, "' in the model");
  const std::string prefix = layer.empty() ? "" : layer + ".";
  uint64_t counter = 0;
  std::vector<std::pair<std::string, Tensor>> fresh;
  for (const auto& [pname, t] : m->named_parameters()) {
    if (pname.find('.', prefix.size()) != std::string::npos) continue;  // a descendant's
    double mean = 0, var = 0;
    for (float v : t.span()) mean += v;
    mean /= static_cast<double>(t.numel());
    for (float v : t.span()) var += (v - mean) * (v - mean);
    const float sd = var > 0 ? static_cast<float>(std::sqrt(var / static_cast<double>(t.numel()))) : 0.01f;
    Tensor r = Tensor::empty(t.shape());
    for (int64_t k = 0; k < r.numel(); ++k) r.data()[k] = sd * philox::normal(seed, stream, counter++);
    fresh.emplace_back(pname, r);
  }
  for (const auto& [pname, r] : fresh)
    BL_CHECK(work.set_tensor(pname, r), "randomise_layer: cannot set parameter ", pname);
}

std::vector<RandomisationStep> model_randomisation(std::string_view method, const Module& model,
                                                   const Tensor& inputs, const Target& target,
                                                   const MethodOptions& method_options,
                                                   const RandomisationOptions& o) {
  std::vector<std::string> layers = parameter_layers_top_down(model);
  BL_CHECK(!layers.empty(), "model_randomisation: the model has no parameters to randomise");
  if (o.max_layers > 0 && static_cast<size_t>(o.max_layers) < layers.size()) layers.resize(o.max_layers);
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Target fixed = target.is_function() ? target : Target::indices(classes);
  const std::string name(method);
  const Tensor original = attribute(name, model, inputs, fixed, method_options).attribution;
  const int64_t n = original.size(0);
  std::vector<std::vector<double>> ref(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ref[i] = flat_map(original, i, o);

  // Cascading: one clone, layers randomised on top of each other; independent: a fresh clone
  // per step with only that step's layer randomised.
  ModulePtr work = model.clone();
  std::vector<RandomisationStep> steps;
  for (size_t step = 0; step <= layers.size(); ++step) {
    RandomisationStep st;
    if (step > 0) {
      st.layer = layers[step - 1];
      if (o.mode == RandomisationMode::Independent) work = model.clone();
      randomise_layer(*work, st.layer, o.seed, step);
    }
    // Step 0 re-runs the clone: it checks that clone() reproduces the model exactly.
    const Tensor a = attribute(name, *work, inputs, fixed, method_options).attribution;
    st.correlation = Tensor::empty(Shape{n});
    for (int64_t i = 0; i < n; ++i) {
      const double rho = spearman(ref[i], flat_map(a, i, o));
      st.correlation.data()[i] = static_cast<float>(rho);
      st.mean += rho / static_cast<double>(n);
    }
    if (o.keep_maps) st.attribution = a;
    steps.push_back(std::move(st));
  }
  return steps;
}

std::vector<RandomisationStep> cascading_randomisation(std::string_view method, const Module& model,
                                                       const Tensor& inputs, const Target& target,
                                                       const MethodOptions& method_options,
                                                       const RandomisationOptions& options) {
  RandomisationOptions o = options;
  o.mode = RandomisationMode::Cascading;
  return model_randomisation(method, model, inputs, target, method_options, o);
}

std::vector<RandomisationStep> independent_randomisation(std::string_view method, const Module& model,
                                                         const Tensor& inputs, const Target& target,
                                                         const MethodOptions& method_options,
                                                         const RandomisationOptions& options) {
  RandomisationOptions o = options;
  o.mode = RandomisationMode::Independent;
  return model_randomisation(method, model, inputs, target, method_options, o);
}

}  // namespace backlight
