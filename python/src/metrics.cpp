// backlight._core metrics: infidelity, sensitivity_max, deletion/insertion curves, faithfulness
// correlation and cascading randomisation (attribution/metrics/), each releasing the GIL.
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "attribution/metrics/deletion_insertion.h"
#include "attribution/metrics/faithfulness.h"
#include "attribution/metrics/infidelity.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/sensitivity.h"
#include "attribution/registry.h"
#include "python/src/bind.h"

namespace backlight::python {

namespace {
template <class F>
auto compute(F&& f) {
  nb::gil_scoped_release nogil;
  apply_num_threads();
  return f();
}
}  // namespace

void bind_metrics(nb::module_& m) {
  m.def("infidelity", [](const Model& model, const InArray& inputs, const InArray& attributions, nb::handle target,
                         int samples, float stdev, uint64_t seed, bool normalize, bool multiply_by_inputs) {
          const Tensor x = to_tensor(inputs, "inputs"), a = to_tensor(attributions, "attributions");
          const Target t = to_target(target, x.size(0));
          return to_numpy(compute([&] {
            return infidelity(*model.module, x, a, t,
                              {.samples = samples, .stdev = stdev, .seed = seed, .normalize = normalize,
                               .multiply_by_inputs = multiply_by_inputs});
          }));
        }, nb::arg("model"), nb::arg("inputs"), nb::arg("attributions"), nb::arg("target").none(),
        nb::arg("n_perturb_samples") = 10, nb::arg("stdev") = 0.003f, nb::arg("seed") = 0,
        nb::arg("normalize") = false, nb::arg("multiply_by_inputs") = false);
  m.def("sensitivity_max", [](const Model& model, const std::string& method, const InArray& inputs,
                              nb::handle target, const nb::dict& options, int samples, float radius, uint64_t seed) {
          const Tensor x = to_tensor(inputs, "inputs");
          const Target t = to_target(target, x.size(0));
          const MethodOptions mo = registry_options(options);
          return to_numpy(compute([&] {
            return sensitivity_max(method, *model.module, x, t, mo,
                                   {.samples = samples, .radius = radius, .seed = seed});
          }));
        }, nb::arg("model"), nb::arg("method"), nb::arg("inputs"), nb::arg("target").none(),
        nb::arg("options") = nb::dict(), nb::arg("n_perturb_samples") = 10, nb::arg("perturb_radius") = 0.02f,
        nb::arg("seed") = 0);
  m.def("pixel_curve", [](const Model& model, const InArray& inputs, const InArray& attributions, nb::handle target,
                          bool insertion, int64_t step, bool probability, int64_t batch) {
          const Tensor x = to_tensor(inputs, "inputs"), a = to_tensor(attributions, "attributions");
          const Target t = to_target(target, x.size(0));
          const PixelCurveOptions o{.step = step,
                                    .score = probability ? metrics::Score::Probability : metrics::Score::Logit,
                                    .batch = batch};
          const PixelCurve c = compute([&] {
            return insertion ? insertion_curve(*model.module, x, a, t, o) : deletion_curve(*model.module, x, a, t, o);
          });
          return nb::make_tuple(to_numpy(c.curve), to_numpy(c.auc), c.fraction);
        }, nb::arg("model"), nb::arg("inputs"), nb::arg("attributions"), nb::arg("target").none(),
        nb::arg("insertion"), nb::arg("step") = 0, nb::arg("probability") = true, nb::arg("batch") = 0);
  m.def("faithfulness_correlation", [](const Model& model, const InArray& inputs, const InArray& attributions,
                                       nb::handle target, int subsets, int64_t subset_size, float baseline,
                                       uint64_t seed) {
          const Tensor x = to_tensor(inputs, "inputs"), a = to_tensor(attributions, "attributions");
          const Target t = to_target(target, x.size(0));
          return to_numpy(compute([&] {
            return faithfulness_correlation(*model.module, x, a, t,
                                            {.subsets = subsets, .subset_size = subset_size, .baseline = baseline,
                                             .seed = seed});
          }));
        }, nb::arg("model"), nb::arg("inputs"), nb::arg("attributions"), nb::arg("target").none(),
        nb::arg("subsets") = 50, nb::arg("subset_size") = 0, nb::arg("baseline") = 0.0f, nb::arg("seed") = 0);
  m.def("cascading_randomisation", [](const Model& model, const std::string& method, const InArray& inputs,
                                      nb::handle target, const nb::dict& options, uint64_t seed, bool absolute,
                                      int max_layers) {
          const Tensor x = to_tensor(inputs, "inputs");
          const Target t = to_target(target, x.size(0));
          const MethodOptions mo = registry_options(options);
          const auto steps = compute([&] {
            return cascading_randomisation(method, *model.module, x, t, mo,
                                           {.seed = seed, .absolute = absolute, .max_layers = max_layers});
          });
          nb::list out;
          for (const RandomisationStep& s : steps) out.append(nb::make_tuple(s.layer, to_numpy(s.correlation)));
          return out;
        }, nb::arg("model"), nb::arg("method"), nb::arg("inputs"), nb::arg("target").none(),
        nb::arg("options") = nb::dict(), nb::arg("seed") = 0, nb::arg("absolute") = true, nb::arg("max_layers") = 0);
}

}  // namespace backlight::python
