// CP-LRP and AttnLRP on a single-head attention block: conservation and a float64 reference.
#include <cmath>

#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

constexpr int L = 4, E = 3;

struct Block {
  Tensor wq, wk, wv, wo;
};

struct Run {
  Var x, q, k, v, scores, attn, ctx, out;
};

Run attention(Tape& t, const Tensor& x, const Block& b) {
  Run r;
  r.x = t.input(x);
  r.q = linear(r.x, t.param(b.wq, "q.weight"));
  r.k = linear(r.x, t.param(b.wk, "k.weight"));
  r.v = linear(r.x, t.param(b.wv, "v.weight"));
  r.scores = scale(matmul(r.q, transpose(r.k, -1, -2)), 1.0f / std::sqrt(float(E)));
  r.attn = softmax(r.scores, -1);
  r.ctx = matmul(r.attn, r.v);
  r.out = linear(r.ctx, t.param(b.wo, "out.weight"));
  return r;
}

using Mat = std::vector<std::vector<double>>;

Mat to_mat(const Tensor& t, int rows, int cols) {
  Mat m(rows, std::vector<double>(cols));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m[i][j] = t.data()[i * cols + j];
  return m;
}

double stab(double z) { return z + (z >= 0 ? 1e-6 : -1e-6); }

// Epsilon-LRP through y = x W^T (no bias), float64.
Mat lrp_linear(const Mat& x, const Mat& w, const Mat& rel) {
  const size_t n = x.size(), in = x[0].size(), out = w.size();
  Mat r(n, std::vector<double>(in, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t o = 0; o < out; ++o) {
      double z = 0;
      for (size_t j = 0; j < in; ++j) z += x[i][j] * w[o][j];
      for (size_t j = 0; j < in; ++j) r[i][j] += x[i][j] * w[o][j] * rel[i][o] / stab(z);
    }
  return r;
}

double total(const Tensor& t) {
  double s = 0;
  for (float v : t.span()) s += v;
  return s;
}

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("cp_lrp: attention is constant, relevance conserved through the value path") {
  std::mt19937_64 rng(kSeed);
  const Block b{randn({E, E}, rng), randn({E, E}, rng), randn({E, E}, rng), randn({E, E}, rng)};
  const Tensor x = randn({1, L, E}, rng);
  Tape t;
  Run r = attention(t, x, b);
  const Tensor seed = r.out.value();  // explain every output by its value
  const std::vector<Var> wrt{r.x, r.q, r.k, r.v};
  const std::vector<Var> outs{r.out};
  const std::vector<Tensor> seeds{seed};
  const auto rel = backward(t, outs, seeds, wrt, make_rule_set("cp_lrp"));
  CHECK(total(rel[1]) == 0.0);  // nothing reaches the queries
  CHECK(total(rel[2]) == 0.0);  // nor the keys
  CHECK(total(rel[0]) == doctest::Approx(total(seed)).epsilon(1e-4));
  CHECK(total(rel[3]) == doctest::Approx(total(seed)).epsilon(1e-4));
}

TEST_CASE("attnlrp: block relevance equals a float64 reference of the paper's rules") {
  std::mt19937_64 rng(kSeed + 1);
  const Block b{randn({E, E}, rng), randn({E, E}, rng), randn({E, E}, rng), randn({E, E}, rng)};
  const Tensor x = randn({1, L, E}, rng);
  Tape t;
  Run r = attention(t, x, b);
  const Tensor seed = r.out.value();
  const Tensor got = backward(r.out, seed, r.x, make_rule_set("attnlrp"));

  // Reference, step by step in float64 from the recorded forward values.
  const Mat X = to_mat(x, L, E), Q = to_mat(r.q.value(), L, E), K = to_mat(r.k.value(), L, E);
  const Mat V = to_mat(r.v.value(), L, E), A = to_mat(r.attn.value(), L, L), S = to_mat(r.scores.value(), L, L);
  const Mat C = to_mat(r.ctx.value(), L, E);
  const Mat R_ctx = lrp_linear(C, to_mat(b.wo, E, E), to_mat(seed, L, E));
  // ctx = A V, uniform rule: half to each operand.
  Mat R_A(L, std::vector<double>(L, 0.0)), R_V(L, std::vector<double>(E, 0.0));
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < E; ++j) {
      const double s = R_ctx[i][j] / (2 * stab(C[i][j]));
      for (int k = 0; k < L; ++k) {
        R_A[i][k] += A[i][k] * V[k][j] * s;
        R_V[k][j] += A[i][k] * V[k][j] * s;
      }
    }
  // softmax rule: R_in = s * (R - a * sum R) per row.
  Mat R_S(L, std::vector<double>(L));
  for (int i = 0; i < L; ++i) {
    double sum = 0;
    for (int k = 0; k < L; ++k) sum += R_A[i][k];
    for (int k = 0; k < L; ++k) R_S[i][k] = S[i][k] * (R_A[i][k] - A[i][k] * sum);
  }
  // scale: relevance passes (epsilon on a scalar multiple); scores = Q K^T, uniform rule.
  Mat R_Q(L, std::vector<double>(E, 0.0)), R_K(L, std::vector<double>(E, 0.0));
  for (int i = 0; i < L; ++i)
    for (int k = 0; k < L; ++k) {
      double z = 0;
      for (int j = 0; j < E; ++j) z += Q[i][j] * K[k][j];
      const double sz = z / std::sqrt(double(E));
      const double rel = R_S[i][k] * (sz / stab(sz)) / (2 * stab(z));
      for (int j = 0; j < E; ++j) {
        R_Q[i][j] += Q[i][j] * K[k][j] * rel;
        R_K[k][j] += Q[i][j] * K[k][j] * rel;
      }
    }
  const Mat RX1 = lrp_linear(X, to_mat(b.wq, E, E), R_Q), RX2 = lrp_linear(X, to_mat(b.wk, E, E), R_K),
            RX3 = lrp_linear(X, to_mat(b.wv, E, E), R_V);
  std::vector<float> ref;
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < E; ++j) ref.push_back(static_cast<float>(RX1[i][j] + RX2[i][j] + RX3[i][j]));
  const Tensor ref_t = Tensor::from(x.shape(), ref);
  BL_CHECK_CLOSE(got, ref_t, 1e-4 * max_abs(ref_t), 1e-3);
  // The uniform matmul rule conserves: R_A + R_V sums to R_ctx.
  double ra = 0, rv = 0, rc = 0;
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < L; ++j) ra += R_A[i][j];
  for (int i = 0; i < L; ++i)
    for (int j = 0; j < E; ++j) rv += R_V[i][j], rc += R_ctx[i][j];
  CHECK(ra + rv == doctest::Approx(rc).epsilon(1e-4));  // up to the 1e-6 stabiliser
}

TEST_CASE("attnlrp: layernorm identity rule equals epsilon-LRP on the linearised map") {
  std::mt19937_64 rng(kSeed + 2);
  const Tensor x = randn({2, 5}, rng), w = randn({5}, rng), b = randn({5}, rng, 0.1f);
  Tape t;
  Var xv = t.input(x);
  Var y = layernorm(xv, t.param(w, "ln.weight"), t.param(b, "ln.bias"), 1, 1e-5f);
  const Tensor rel = randn({2, 5}, rng);
  const Tensor got = backward(y, rel, xv, RuleSet().when(kind(OpKind::LayerNorm), lrp_layernorm_identity()));
  for (int r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (int j = 0; j < 5; ++j) mean += x.at({r, j}) / 5.0;
    for (int j = 0; j < 5; ++j) var += (x.at({r, j}) - mean) * (x.at({r, j}) - mean) / 5.0;
    const double sigma = std::sqrt(var + 1e-5);
    for (int i = 0; i < 5; ++i) {
      // W_ji = w_j (delta_ji - 1/5) / sigma; R_i = x_i sum_j W_ji R_j / y_j
      double ri = 0;
      for (int j = 0; j < 5; ++j)
        ri += x.at({r, i}) * w.data()[j] * ((i == j) - 0.2) / sigma * rel.at({r, j}) / stab(y.value().at({r, j}));
      CHECK(got.at({r, i}) == doctest::Approx(ri).epsilon(1e-4));
    }
  }
}

}  // TEST_SUITE
