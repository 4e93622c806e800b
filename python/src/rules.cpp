// backlight._core rules: LRP rules as data (LrpSpec), the built-in rules, matchers, rule sets,
// and rules whose backward is a Python function (slow: the GIL is taken per node).
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <optional>

#include "engine/error.h"
#include "engine/op_kind.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "engine/rules/lrp.h"
#include "python/src/bind.h"

namespace backlight::python {

namespace {

struct PyRule {
  RulePtr rule;
};

InputMod input_mod(nb::handle h) {
  if (nb::isinstance<nb::float_>(h) || nb::isinstance<nb::int_>(h))
    return InputMod::fill(Tensor::full(Shape{1}, nb::cast<float>(h)));
  if (!nb::isinstance<nb::str>(h)) return InputMod::fill(to_tensor(nb::cast<InArray>(h), "input", true).clone());
  const std::string s = nb::cast<std::string>(h);
  if (s == "keep") return InputMod::keep();
  if (s == "positive") return InputMod::positive();
  if (s == "negative") return InputMod::negative();
  if (s == "ones") return InputMod::ones();
  BL_THROW("LrpTerm: input modifier: expected 'keep', 'positive', 'negative', 'ones', a number or an array, got '", s,
           "'");
}

ParamMod param_mod(const std::string& s, float gamma, const char* what) {
  if (s == "keep") return ParamMod::keep();
  if (s == "zero") return ParamMod::zero();
  if (s == "ones") return ParamMod::ones();
  if (s == "positive") return ParamMod::positive();
  if (s == "negative") return ParamMod::negative();
  if (s == "square") return ParamMod::square();
  if (s == "gamma_positive") return ParamMod::gamma_positive(gamma);
  if (s == "gamma_negative") return ParamMod::gamma_negative(gamma);
  BL_THROW("LrpTerm: ", what, " modifier: expected 'keep', 'zero', 'ones', 'positive', 'negative', 'square', "
           "'gamma_positive' or 'gamma_negative', got '", s, "'");
}

LrpGroup::Select select_of(const std::string& s) {
  if (s == "all") return LrpGroup::Select::All;
  if (s == "positive_output") return LrpGroup::Select::PositiveOutput;
  if (s == "negative_output") return LrpGroup::Select::NegativeOutput;
  BL_THROW("LrpGroup: where: expected 'all', 'positive_output' or 'negative_output', got '", s, "'");
}

using TermTuple = std::tuple<float, nb::object, std::string, float, std::string, float>;
using GroupTuple = std::tuple<float, std::string, std::vector<TermTuple>>;

// A rule whose backward is a Python callable fn(kind, name, inputs, output, grad_out) returning
// the signal for each activation input (a list of arrays, or one array for input 0). Parameters
// get their plain gradient when one is needed (never in attribution).
class PythonRule : public Rule {
 public:
  PythonRule(std::string name, nb::object fn) : name_(std::move(name)), fn_(new nb::object(std::move(fn))) {}
  ~PythonRule() override {
    nb::gil_scoped_acquire gil;
    delete fn_;
  }
  std::string name() const override { return name_; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& grad_out) const override {
    std::vector<Tensor> out(ctx.num_inputs());
    {
      nb::gil_scoped_acquire gil;
      try {
        nb::list inputs;
        for (int i = 0; i < ctx.num_inputs(); ++i) inputs.append(to_numpy(ctx.input(i)));
        nb::object r = (*fn_)(std::string(to_string(ctx.kind())), ctx.name(), inputs, to_numpy(ctx.output()),
                              to_numpy(grad_out));
        std::vector<nb::object> signals;
        if (nb::isinstance<nb::list>(r) || nb::isinstance<nb::tuple>(r)) {
          for (nb::handle h : r) signals.push_back(nb::borrow(h));
        } else {
          signals.push_back(r);
        }
        BL_CHECK(static_cast<int>(signals.size()) <= ctx.num_inputs(), "python rule '", name_, "' at ", ctx.name(),
                 ": returned ", signals.size(), " signals for ", ctx.num_inputs(), " inputs");
        for (size_t i = 0; i < signals.size(); ++i) {
          if (signals[i].is_none()) continue;
          const std::string what = "python rule '" + name_ + "' signal " + std::to_string(i);
          Tensor t = to_tensor(nb::cast<InArray>(signals[i]), what.c_str(), true).clone();
          BL_CHECK(t.shape() == ctx.input(static_cast<int>(i)).shape(), what, " at ", ctx.name(), ": expected shape ",
                   ctx.input(static_cast<int>(i)).shape(), ", got ", t.shape());
          out[i] = t;
        }
      } catch (nb::python_error& e) {
        throw Error("python rule '" + name_ + "' at " + ctx.name() + ": " + e.what());
      } catch (nb::cast_error&) {
        throw Error("python rule '" + name_ + "' at " + ctx.name() + ": expected float32 arrays (or None) as signals");
      }
    }
    // Parameters and inputs the function left out: the plain gradient where one is needed.
    std::vector<Tensor> plain;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      if (out[i].defined() || !ctx.needs_grad(i)) continue;
      if (plain.empty()) plain = plain_vjp(ctx, grad_out);
      out[i] = plain[i];
    }
    return out;
  }

 private:
  std::string name_;
  nb::object* fn_;  // deleted under the GIL
};

}  // namespace

void bind_rules(nb::module_& m) {
  nb::class_<PyRule>(m, "Rule", "A backward rule (stateless, shareable between rule sets and threads).")
      .def_prop_ro("name", [](const PyRule& r) { return r.rule->name(); })
      .def("__repr__", [](const PyRule& r) { return "Rule(" + r.rule->name() + ")"; });
  m.def("lrp_rule", [](const std::string& name, const std::vector<GroupTuple>& groups, float stabilizer) {
          LrpSpec spec;
          spec.stabilizer = stabilizer;
          BL_CHECK(!groups.empty(), "LrpRule '", name, "': expected at least one group");
          for (const auto& [coef, where, terms] : groups) {
            LrpGroup g{.coef = coef, .where = select_of(where), .terms = {}};
            BL_CHECK(!terms.empty(), "LrpRule '", name, "': expected at least one term per group");
            for (const auto& [sign, in, w, wg, b, bg] : terms)
              g.terms.push_back({.sign = sign, .input = input_mod(in), .weight = param_mod(w, wg, "weight"),
                                 .bias = param_mod(b, bg, "bias")});
            spec.groups.push_back(std::move(g));
          }
          return PyRule{make_lrp_rule(name, std::move(spec))};
        }, nb::arg("name"), nb::arg("groups"), nb::arg("stabilizer") = 1e-6f,
        "An LRP rule from its LrpSpec: groups (coef, where, terms), terms (sign, input, weight, weight_gamma, "
        "bias, bias_gamma).");
  m.def("builtin_rule", [](const std::string& name, std::vector<float> p) {
          const auto arg = [&](size_t i, float d) { return i < p.size() ? p[i] : d; };
          RulePtr r;
          if (name == "epsilon") r = epsilon(arg(0, 1e-6f));
          else if (name == "zplus") r = zplus(arg(0, 1e-6f));
          else if (name == "alpha_beta") r = alpha_beta(arg(0, 2.0f), arg(1, 1.0f), arg(2, 1e-6f));
          else if (name == "gamma") r = gamma(arg(0, 0.25f), arg(1, 1e-6f));
          else if (name == "zbox") r = zbox(arg(0, 0.0f), arg(1, 1.0f), arg(2, 1e-6f));
          else if (name == "flat") r = flat(arg(0, 1e-6f));
          else if (name == "wsquare") r = wsquare(arg(0, 1e-6f));
          else if (name == "norm") r = norm(arg(0, 1e-6f));
          else if (name == "pass") r = pass();
          else if (name == "gradient") r = gradient_rule();
          else if (name == "guided_backprop") r = guided_backprop();
          else if (name == "deconvnet") r = deconvnet();
          else
            BL_THROW("builtin_rule: unknown rule '", name, "' (known: epsilon, zplus, alpha_beta, gamma, zbox, flat, "
                     "wsquare, norm, pass, gradient, guided_backprop, deconvnet)");
          return PyRule{r};
        }, nb::arg("name"), nb::arg("params") = std::vector<float>{});
  m.def("python_rule", [](const std::string& name, nb::object fn) {
          if (!PyCallable_Check(fn.ptr())) throw nb::type_error("python_rule: fn must be callable");
          return PyRule{std::make_shared<PythonRule>(name, std::move(fn))};
        }, nb::arg("name"), nb::arg("fn"));

  nb::class_<Matcher>(m, "Matcher", "Selects tape nodes by op kind, layer name or position.")
      .def_prop_ro("description", &Matcher::description)
      .def("__and__", [](const Matcher& a, const Matcher& b) { return a && b; })
      .def("__or__", [](const Matcher& a, const Matcher& b) { return a || b; })
      .def("__invert__", [](const Matcher& a) { return !a; })
      .def("__repr__", [](const Matcher& a) { return "Matcher(" + a.description() + ")"; });
  m.def("match_kind", [](const std::vector<std::string>& kinds) {
    BL_CHECK(!kinds.empty(), "kind: expected at least one op kind");
    std::optional<Matcher> out;
    for (const std::string& k : kinds) {
      const auto kind_value = op_kind_from_string(k);
      if (!kind_value) {
        std::string known;
        for (OpKind o : all_op_kinds()) known += (known.empty() ? "" : ", ") + std::string(to_string(o));
        BL_THROW("kind: unknown op kind '", k, "' (known: ", known, ")");
      }
      out = out ? (*out || kind(*kind_value)) : kind(*kind_value);
    }
    return *out;
  }, nb::arg("kinds"));
  m.def("match_name", [](const std::string& glob) { return name_glob(glob); }, nb::arg("glob"));
  m.def("match_first_with_params", []() { return first_with_params(); });
  m.def("match_first", [](const Matcher& a) { return first_matching(a); }, nb::arg("matcher"));
  m.def("match_any", []() { return any_node(); });

  nb::class_<PyRuleSet>(m, "RuleSet", "Ordered (matcher, rule) entries; the first match wins.")
      .def_prop_ro("name", [](const PyRuleSet& r) { return r.set.name(); });
  m.def("rule_set", [](const std::string& name, const std::vector<std::pair<Matcher, PyRule>>& entries,
                       const PyRule* fallback) {
          PyRuleSet out{RuleSet(name)};
          for (const auto& [mt, r] : entries) out.set.when(mt, r.rule);
          if (fallback) out.set.otherwise(fallback->rule);
          return out;
        }, nb::arg("name"), nb::arg("entries"), nb::arg("fallback").none() = nb::none());
  m.def("builtin_rule_set", [](const std::string& name, const std::map<std::string, float>& params) {
          RuleParams p(params.begin(), params.end());
          return PyRuleSet{make_rule_set(name, p)};
        }, nb::arg("name"), nb::arg("params") = std::map<std::string, float>{});
}

}  // namespace backlight::python
