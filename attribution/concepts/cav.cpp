#include "attribution/concepts/cav.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/error.h"

namespace backlight {

namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// log(1 + exp(t)) without overflow.
double softplus(double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))); }
double sigmoid(double t) { return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t)); }

// Objective, gradient and Hessian of 0.5 |z|^2 + C sum softplus(-y (Z z + b)) in theta = (z, b).
struct Logistic {
  const Eigen::MatrixXd& z;
  const Eigen::VectorXd& y;
  double c;

  double value(const Eigen::VectorXd& th) const {
    const int64_t r = z.cols();
    const Eigen::VectorXd m = z * th.head(r) + Eigen::VectorXd::Constant(z.rows(), th(r));
    double f = 0.5 * th.head(r).squaredNorm();
    for (int64_t i = 0; i < m.size(); ++i) f += c * softplus(-y(i) * m(i));
    return f;
  }
  void derivatives(const Eigen::VectorXd& th, Eigen::VectorXd& g, Eigen::MatrixXd& h) const {
    const int64_t r = z.cols(), n = z.rows();
    const Eigen::VectorXd m = z * th.head(r) + Eigen::VectorXd::Constant(n, th(r));
    Eigen::VectorXd s(n), d(n);
    for (int64_t i = 0; i < n; ++i) {
      s(i) = -c * y(i) * sigmoid(-y(i) * m(i));  // d/dm of C softplus(-y m)
      const double p = sigmoid(m(i));
      d(i) = c * p * (1 - p);
    }
    g.resize(r + 1);
    g.head(r) = th.head(r) + z.transpose() * s;
    g(r) = s.sum();
    h.resize(r + 1, r + 1);
    const Eigen::MatrixXd zd = z.transpose() * d.asDiagonal();
    h.topLeftCorner(r, r) = zd * z;
    h.topLeftCorner(r, r).diagonal().array() += 1.0;
    h.topRightCorner(r, 1) = zd.rowwise().sum();
    h.bottomLeftCorner(1, r) = h.topRightCorner(r, 1).transpose();
    h(r, r) = d.sum();
  }
};

}  // namespace

CavClassifier cav_classifier_from_string(std::string_view name) {
  if (name == "logistic") return CavClassifier::Logistic;
  if (name == "sgd") return CavClassifier::Sgd;
  BL_THROW("cav: unknown classifier '", name, "' (accepted: logistic, sgd)");
}

std::string to_string(CavClassifier c) { return c == CavClassifier::Logistic ? "logistic" : "sgd"; }

Eigen::VectorXd logistic_regression(const Eigen::MatrixXf& x, const Eigen::VectorXd& y, double c, int max_iter,
                                    double* intercept, int* iterations, bool* converged) {
  BL_CHECK(x.rows() == y.size() && x.rows() >= 2, "logistic_regression: expected X [n, p] and n labels, n >= 2, got [",
           x.rows(), ", ", x.cols(), "] and ", y.size());
  BL_CHECK(c > 0 && max_iter >= 1, "logistic_regression: expected C > 0 and max_iter >= 1, got ", c, " and ", max_iter);
  const int64_t n = x.rows(), p = x.cols();
  // Coordinates: X itself when p <= n, else Z = U sqrt(L) from X X^T = U L U^T and w = X^T U L^{-1/2} z.
  Eigen::MatrixXd z, back;  // back: [n, r] with w = X^T back z
  const bool example_space = p > n;
  if (example_space) {
    // X X^T accumulated in float (one symmetric rank update, as layer_similarity does; p is large,
    // the n x n result small), then double for the eigendecomposition.
    Eigen::MatrixXf kf = Eigen::MatrixXf::Zero(n, n);
    kf.selfadjointView<Eigen::Lower>().rankUpdate(x);
    const Eigen::MatrixXd k = Eigen::MatrixXf(kf.selfadjointView<Eigen::Lower>()).cast<double>();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(k);
    const Eigen::VectorXd& l = es.eigenvalues();
    const double top = std::max(l.maxCoeff(), 0.0);
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < n; ++i)
      if (l(i) > 1e-12 * top && l(i) > 0) keep.push_back(i);
    z.resize(n, static_cast<int64_t>(keep.size()));
    back.resize(n, static_cast<int64_t>(keep.size()));
    for (size_t j = 0; j < keep.size(); ++j) {
      const double sl = std::sqrt(l(keep[j]));
      z.col(static_cast<int64_t>(j)) = es.eigenvectors().col(keep[j]) * sl;
      back.col(static_cast<int64_t>(j)) = es.eigenvectors().col(keep[j]) / sl;
    }
  } else {
    z = x.cast<double>();
  }
  const int64_t r = z.cols();
  const Logistic f{z, y, c};
  Eigen::VectorXd th = Eigen::VectorXd::Zero(r + 1), g;
  Eigen::MatrixXd h;
  const double gtol = 1e-9 * std::max(1.0, c * static_cast<double>(n));
  bool done = false;
  int it = 0;
  for (; it < max_iter; ++it) {
    f.derivatives(th, g, h);
    if (g.lpNorm<Eigen::Infinity>() <= gtol) {
      done = true;
      break;
    }
    Eigen::LDLT<Eigen::MatrixXd> ldlt(h);
    Eigen::VectorXd step = ldlt.solve(-g);
    if (ldlt.info() != Eigen::Success || !step.allFinite() || step.dot(g) >= 0) step = -g;  // fall back to descent
    // Backtracking (Armijo): the objective is strictly convex and smooth, full steps are taken near the optimum.
    const double f0 = f.value(th), slope = step.dot(g);
    // Newton decrement: -slope / 2 estimates f - f*. Below double precision of f the gradient test
    // may be out of reach (features of large magnitude), and the optimum is reached numerically.
    if (-slope <= 1e-14 * std::max(1.0, std::abs(f0))) {
      done = true;
      break;
    }
    double t = 1.0;
    Eigen::VectorXd next = th + step;
    double fn = f.value(next);
    while (fn > f0 + 1e-4 * t * slope && t > 1e-10) t *= 0.5, next = th + t * step, fn = f.value(next);
    if (!(fn < f0)) {  // no decrease representable: at the optimum numerically
      done = true;
      break;
    }
    th = next;
  }
  if (iterations) *iterations = it;
  if (converged) *converged = done;
  *intercept = th(r);
  if (!example_space) return th.head(r);
  return x.cast<double>().transpose() * (back * th.head(r));
}

Eigen::VectorXd sgd_hinge(const Eigen::MatrixXf& x, const Eigen::VectorXd& y, double alpha, int max_iter, double tol,
                          bool shuffle, uint64_t seed, double* intercept, int* epochs, bool* converged) {
  BL_CHECK(x.rows() == y.size() && x.rows() >= 1, "sgd_hinge: expected X [n, p] and n labels, got [", x.rows(), ", ",
           x.cols(), "] and ", y.size());
  BL_CHECK(alpha > 0 && max_iter >= 1 && tol > 0, "sgd_hinge: expected alpha > 0, max_iter >= 1, tol > 0, got ", alpha,
           ", ", max_iter, ", ", tol);
  const int64_t n = x.rows(), p = x.cols();
  const RowMatrixF xr = x;  // rows contiguous
  // w = wscale * v (sklearn's WeightVector): the per-sample decay is one multiplication.
  Eigen::VectorXd v = Eigen::VectorXd::Zero(p);
  double wscale = 1.0, b = 0.0;
  // learning_rate "optimal": eta_t = 1 / (alpha (t0 + t - 1)) with sklearn's heuristic t0.
  const double typw = std::sqrt(1.0 / std::sqrt(alpha));
  const double eta0 = typw;  // typw / max(1, |dloss(-typw, 1)|), and the hinge dloss there is -1
  const double t0 = 1.0 / (eta0 * alpha);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  double best = std::numeric_limits<double>::infinity();
  int no_improvement = 0, epoch = 0;
  bool stopped = false;
  double t = 1;
  for (; epoch < max_iter && !stopped; ++epoch) {
    if (shuffle) std::shuffle(order.begin(), order.end(), rng);
    double sumloss = 0;
    for (int64_t k : order) {
      const auto row = xr.row(k).cast<double>();
      const double m = wscale * row.dot(v) + b;
      const double eta = 1.0 / (alpha * (t0 + t - 1));
      const double z = m * y(k);
      sumloss += std::max(0.0, 1.0 - z);
      const double dloss = z <= 1.0 ? -y(k) : 0.0;
      const double update = -eta * dloss;
      wscale *= std::max(0.0, 1.0 - eta * alpha);
      if (update != 0.0) {
        v += (update / wscale) * row.transpose();
        b += update;
      }
      if (wscale < 1e-9) v *= wscale, wscale = 1.0;  // sklearn rescales at the same threshold
      t += 1;
    }
    BL_CHECK(std::isfinite(b) && std::isfinite(wscale), "sgd_hinge: the weights diverged in epoch ", epoch + 1,
             " (try a larger alpha)");
    if (sumloss > best - tol * static_cast<double>(n)) ++no_improvement;
    else no_improvement = 0;
    best = std::min(best, sumloss);
    if (no_improvement >= 5) stopped = true;
  }
  if (epochs) *epochs = epoch;
  if (converged) *converged = stopped;
  *intercept = b;
  return v * wscale;
}

Cav train_cav(const Eigen::MatrixXf& concept_acts, const Eigen::MatrixXf& random, const CavOptions& o) {
  BL_CHECK(concept_acts.cols() == random.cols(), "train_cav: concept activations have ", concept_acts.cols(),
           " features, random ones ", random.cols(), "; expected the same layer");
  BL_CHECK(concept_acts.rows() >= 2 && random.rows() >= 2, "train_cav: expected at least 2 concept and 2 random examples, got ",
           concept_acts.rows(), " and ", random.rows());
  BL_CHECK(o.c > 0 && o.alpha > 0 && o.tol > 0 && o.max_iter >= 1 && o.test_split >= 0 && o.test_split < 1,
           "train_cav: expected c, alpha, tol > 0, max_iter >= 1 and 0 <= test_split < 1, got c ", o.c, ", alpha ",
           o.alpha, ", tol ", o.tol, ", max_iter ", o.max_iter, ", test_split ", o.test_split);
  BL_CHECK(concept_acts.allFinite() && random.allFinite(), "train_cav: activations hold non-finite values");
  const int64_t nc = concept_acts.rows(), n = nc + random.rows();
  // Seeded split as Captum's _train_test_split: shuffle all examples, the first test_size are held out.
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(o.seed);
  const int64_t test = static_cast<int64_t>(o.test_split * static_cast<double>(n));
  if (test > 0) std::shuffle(idx.begin(), idx.end(), rng);
  const int64_t train = n - test;
  BL_CHECK(train >= 2, "train_cav: test_split ", o.test_split, " leaves ", train, " training examples");
  auto row = [&](int64_t i) { return i < nc ? concept_acts.row(i) : random.row(i - nc); };
  Eigen::MatrixXf xt(train, concept_acts.cols());
  Eigen::VectorXd yt(train);
  for (int64_t k = 0; k < train; ++k) {
    const int64_t i = idx[static_cast<size_t>(test + k)];
    xt.row(k) = row(i);
    yt(k) = i < nc ? 1.0 : -1.0;
  }
  Cav cav;
  cav.weights = o.classifier == CavClassifier::Logistic
                    ? logistic_regression(xt, yt, o.c, o.max_iter, &cav.intercept, &cav.iterations, &cav.converged)
                    : sgd_hinge(xt, yt, o.alpha, o.max_iter, o.tol, o.shuffle, rng(), &cav.intercept, &cav.iterations,
                                &cav.converged);
  const double norm = cav.weights.norm();
  BL_CHECK(norm > 0 && std::isfinite(norm), "train_cav: the ", to_string(o.classifier),
           " classifier returned a zero or non-finite weight vector (are concept_acts and random activations identical?)");
  cav.direction = (cav.weights / norm).cast<float>();
  const int64_t eval_begin = test > 0 ? 0 : 0, eval_end = test > 0 ? test : n;
  int64_t right = 0;
  for (int64_t k = eval_begin; k < eval_end; ++k) {
    const int64_t i = idx[static_cast<size_t>(k)];
    const double m = row(i).cast<double>().dot(cav.weights) + cav.intercept;
    right += (m > 0) == (i < nc);
  }
  cav.accuracy = static_cast<double>(right) / static_cast<double>(eval_end - eval_begin);
  return cav;
}

}  // namespace backlight
