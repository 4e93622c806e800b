#pragma once
// Obviously-correct float64 references for the LRP rules on a dense affine map z = W x + b
// (W [out,in] as a row-major vector). Conv layers are tested through their Jacobian matrix.
// Written from the rule definitions (Zennit 0.5.1 rules.py), independently of LrpSpec.
#include <cmath>
#include <functional>
#include <vector>

namespace backlight::test {

struct Dense {
  int out, in;
  std::vector<double> w, b;  // w[j*in+i]
  double at(int j, int i) const { return w[static_cast<size_t>(j) * in + i]; }
};

inline double stab(double z, double eps) { return z + (z >= 0 ? eps : -eps); }
inline double pos(double v) { return v > 0 ? v : 0; }
inline double neg(double v) { return v < 0 ? v : 0; }

// One term of a rule: sign * (input_mod(x) . param_mod(W)) + bias_mod(b).
struct RefTerm {
  double sign;
  std::function<double(int i)> in;
  std::function<double(double)> wmod;
  std::function<double(double)> bmod;  // nullptr: no bias
};
struct RefGroup {
  double coef;
  int select;  // 0 all, 1 z>0, -1 z<0 (z = original output)
  std::vector<RefTerm> terms;
};

inline std::vector<double> lrp_dense(const Dense& d, const std::vector<double>& x, const std::vector<double>& rel,
                                     const std::vector<RefGroup>& groups, double eps) {
  std::vector<double> z0(d.out), out(d.in, 0.0);
  for (int j = 0; j < d.out; ++j) {
    z0[j] = d.b.empty() ? 0 : d.b[j];
    for (int i = 0; i < d.in; ++i) z0[j] += d.at(j, i) * x[i];
  }
  for (const RefGroup& g : groups) {
    std::vector<double> zg(d.out, 0.0);
    for (const RefTerm& t : g.terms)
      for (int j = 0; j < d.out; ++j) {
        double z = (t.bmod && !d.b.empty()) ? t.bmod(d.b[j]) : 0;
        for (int i = 0; i < d.in; ++i) z += t.wmod(d.at(j, i)) * t.in(i);
        zg[j] += t.sign * z;
      }
    for (int j = 0; j < d.out; ++j) {
      const bool keep = g.select == 0 || (g.select > 0 && z0[j] > 0) || (g.select < 0 && z0[j] < 0);
      const double s = keep ? rel[j] / stab(zg[j], eps) : 0;
      for (const RefTerm& t : g.terms)
        for (int i = 0; i < d.in; ++i) out[i] += g.coef * t.sign * t.in(i) * t.wmod(d.at(j, i)) * s;
    }
  }
  return out;
}

}  // namespace backlight::test
