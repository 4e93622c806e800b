#include "attribution/concepts/similarity.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace backlight {

namespace {

struct Whitening {
  Eigen::MatrixXd w;  // p x k: C^{-1/2} restricted to C's numerical range (w^T C w = I_k)
};

Whitening whiten(const Eigen::MatrixXd& c, double tol) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(c);
  const Eigen::VectorXd& lam = es.eigenvalues();  // ascending
  const double top = lam.size() ? lam(lam.size() - 1) : 0.0;
  int64_t k = 0;
  for (int64_t i = 0; i < lam.size(); ++i) k += (top > 0 && lam(i) > tol * top) ? 1 : 0;
  Whitening out{Eigen::MatrixXd(c.rows(), k)};
  for (int64_t j = 0; j < k; ++j) {
    const int64_t i = lam.size() - 1 - j;  // largest first
    out.w.col(j) = es.eigenvectors().col(i) / std::sqrt(lam(i));
  }
  return out;
}

struct CcaResult {
  Eigen::VectorXd rho;
  Eigen::MatrixXd a, b;  // canonical weights, p x r and q x r
};

CcaResult cca_core(const Eigen::MatrixXd& cxx, const Eigen::MatrixXd& cyy, const Eigen::MatrixXd& cxy, double tol) {
  const Whitening wx = whiten(cxx, tol), wy = whiten(cyy, tol);
  BL_CHECK(wx.w.cols() > 0 && wy.w.cols() > 0, "cca: a layer has no variance over the examples (every feature ",
           "is constant); correlations are undefined");
  const Eigen::MatrixXd m = wx.w.transpose() * cxy * wy.w;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const int64_t r = std::min(m.rows(), m.cols());
  CcaResult res;
  res.rho = svd.singularValues().head(r).cwiseMin(1.0).cwiseMax(0.0);
  res.a = wx.w * svd.matrixU().leftCols(r);
  res.b = wy.w * svd.matrixV().leftCols(r);
  return res;
}

// Principal directions keeping `keep` of the variance (largest first), p x k.
Eigen::MatrixXd principal_directions(const Eigen::MatrixXd& c, double keep) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(c);
  const Eigen::VectorXd lam = es.eigenvalues().cwiseMax(0.0);
  const double total = lam.sum();
  BL_CHECK(total > 0, "svcca: a layer has no variance over the examples (every feature is constant)");
  int64_t k = 0;
  double acc = 0;
  while (k < lam.size() && acc < keep * total) acc += lam(lam.size() - 1 - k++);
  Eigen::MatrixXd p(c.rows(), k);
  for (int64_t j = 0; j < k; ++j) p.col(j) = es.eigenvectors().col(lam.size() - 1 - j);
  return p;
}

void center_gram(Eigen::MatrixXd& g, bool unbiased) {
  const auto n = static_cast<double>(g.rows());
  if (unbiased) {
    g.diagonal().setZero();
    Eigen::VectorXd means = g.colwise().sum().transpose() / (n - 2);
    means.array() -= means.sum() / (2 * (n - 1));
    g.colwise() -= means;
    g.rowwise() -= means.transpose();
    g.diagonal().setZero();
  } else {
    Eigen::VectorXd means = g.colwise().mean().transpose();
    means.array() -= means.mean() / 2;
    g.colwise() -= means;
    g.rowwise() -= means.transpose();
  }
}

}  // namespace

SimilarityMeasure similarity_measure_from_string(std::string_view name) {
  if (name == "cka") return SimilarityMeasure::Cka;
  if (name == "cka_rbf") return SimilarityMeasure::CkaRbf;
  if (name == "cca") return SimilarityMeasure::Cca;
  if (name == "svcca") return SimilarityMeasure::Svcca;
  if (name == "pwcca") return SimilarityMeasure::Pwcca;
  throw Error("similarity: unknown measure '" + std::string(name) + "' (accepted: " + similarity_measure_names() + ")");
}

std::string to_string(SimilarityMeasure m) {
  switch (m) {
    case SimilarityMeasure::Cka: return "cka";
    case SimilarityMeasure::CkaRbf: return "cka_rbf";
    case SimilarityMeasure::Cca: return "cca";
    case SimilarityMeasure::Svcca: return "svcca";
    case SimilarityMeasure::Pwcca: return "pwcca";
  }
  return "?";
}

std::string similarity_measure_names() { return "cka, cka_rbf, cca, svcca, pwcca"; }

PairMoments::PairMoments(int64_t p, int64_t q)
    : sx_(Eigen::VectorXd::Zero(p)), sy_(Eigen::VectorXd::Zero(q)), xx_(Eigen::MatrixXd::Zero(p, p)),
      yy_(Eigen::MatrixXd::Zero(q, q)), xy_(Eigen::MatrixXd::Zero(p, q)) {
  BL_CHECK(p >= 1 && q >= 1, "PairMoments: expected feature counts >= 1, got p=", p, ", q=", q);
}

PairMoments PairMoments::from_sums(int64_t n, Eigen::VectorXd sx, Eigen::VectorXd sy, Eigen::MatrixXd xx,
                                   Eigen::MatrixXd yy, Eigen::MatrixXd xy) {
  BL_CHECK(xx.rows() == sx.size() && xx.cols() == sx.size() && yy.rows() == sy.size() && yy.cols() == sy.size() &&
               xy.rows() == sx.size() && xy.cols() == sy.size() && n >= 0,
           "PairMoments::from_sums: inconsistent shapes (sx ", sx.size(), ", sy ", sy.size(), ", xx ", xx.rows(), "x",
           xx.cols(), ", yy ", yy.rows(), "x", yy.cols(), ", xy ", xy.rows(), "x", xy.cols(), ")");
  PairMoments m(sx.size(), sy.size());
  m.n_ = n;
  m.sx_ = std::move(sx);
  m.sy_ = std::move(sy);
  m.xx_ = std::move(xx);
  m.yy_ = std::move(yy);
  m.xy_ = std::move(xy);
  return m;
}

void PairMoments::add(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  BL_CHECK(x.rows() == y.rows() && x.rows() >= 1 && x.cols() == sx_.size() && y.cols() == sy_.size(),
           "PairMoments::add: expected x [b, ", sx_.size(), "] and y [b, ", sy_.size(), "] with the same b >= 1, got x [",
           x.rows(), ", ", x.cols(), "], y [", y.rows(), ", ", y.cols(), "]");
  n_ += x.rows();
  sx_ += x.colwise().sum().transpose();
  sy_ += y.colwise().sum().transpose();
  xx_.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  yy_.selfadjointView<Eigen::Lower>().rankUpdate(y.transpose());
  xy_.noalias() += x.transpose() * y;
}

Eigen::MatrixXd PairMoments::cxx() const {
  BL_CHECK(n_ >= 2, "similarity: need at least 2 examples, got ", n_);
  Eigen::MatrixXd c = xx_.selfadjointView<Eigen::Lower>();
  return c - sx_ * sx_.transpose() / static_cast<double>(n_);
}
Eigen::MatrixXd PairMoments::cyy() const {
  BL_CHECK(n_ >= 2, "similarity: need at least 2 examples, got ", n_);
  Eigen::MatrixXd c = yy_.selfadjointView<Eigen::Lower>();
  return c - sy_ * sy_.transpose() / static_cast<double>(n_);
}
Eigen::MatrixXd PairMoments::cxy() const {
  BL_CHECK(n_ >= 2, "similarity: need at least 2 examples, got ", n_);
  return xy_ - sx_ * sy_.transpose() / static_cast<double>(n_);
}

double linear_cka(const PairMoments& m) {
  const double dx = m.cxx().norm(), dy = m.cyy().norm();
  BL_CHECK(dx > 0 && dy > 0, "linear_cka: a layer has no variance over the examples (every feature is constant)");
  return m.cxy().squaredNorm() / (dx * dy);
}

std::vector<double> canonical_correlations(const PairMoments& m, const SimilarityOptions& o) {
  const CcaResult r = cca_core(m.cxx(), m.cyy(), m.cxy(), o.rank_tolerance);
  return {r.rho.data(), r.rho.data() + r.rho.size()};
}

double cca_mean(const PairMoments& m, const SimilarityOptions& o) {
  return cca_core(m.cxx(), m.cyy(), m.cxy(), o.rank_tolerance).rho.mean();
}

double svcca(const PairMoments& m, const SimilarityOptions& o) {
  BL_CHECK(o.keep_variance > 0 && o.keep_variance <= 1, "svcca: keep_variance must be in (0, 1], got ",
           o.keep_variance);
  const Eigen::MatrixXd cxx = m.cxx(), cyy = m.cyy();
  const Eigen::MatrixXd px = principal_directions(cxx, o.keep_variance), py = principal_directions(cyy, o.keep_variance);
  return cca_core(px.transpose() * cxx * px, py.transpose() * cyy * py, px.transpose() * m.cxy() * py,
                  o.rank_tolerance)
      .rho.mean();
}

double pwcca(const PairMoments& m, const SimilarityOptions& o) {
  const Eigen::MatrixXd cxx = m.cxx(), cyy = m.cyy();
  const CcaResult r = cca_core(cxx, cyy, m.cxy(), o.rank_tolerance);
  // Weights from the side with fewer retained directions (Morcos et al.'s choice); its
  // canonical variates h_i = Xc a_i are orthogonal with equal norms, so <h_i, x_j> ~ (a_i^T Cxx)_j.
  const bool x_side = whiten(cxx, o.rank_tolerance).w.cols() <= whiten(cyy, o.rank_tolerance).w.cols();
  const Eigen::MatrixXd proj = x_side ? Eigen::MatrixXd(r.a.transpose() * cxx) : Eigen::MatrixXd(r.b.transpose() * cyy);
  const Eigen::VectorXd w = proj.cwiseAbs().rowwise().sum();
  return w.dot(r.rho) / w.sum();
}

double similarity_from_moments(SimilarityMeasure measure, const PairMoments& m, const SimilarityOptions& o) {
  switch (measure) {
    case SimilarityMeasure::Cka: return linear_cka(m);
    case SimilarityMeasure::Cca: return cca_mean(m, o);
    case SimilarityMeasure::Svcca: return svcca(m, o);
    case SimilarityMeasure::Pwcca: return pwcca(m, o);
    case SimilarityMeasure::CkaRbf: break;
  }
  throw Error("similarity_from_moments: cka_rbf needs the examples (Gram matrices), not moments");
}

Eigen::MatrixXd gram_linear(const Eigen::MatrixXd& x) { return x * x.transpose(); }

Eigen::MatrixXd gram_rbf(const Eigen::MatrixXd& x, double threshold) { return gram_rbf_from_linear(x * x.transpose(), threshold); }

Eigen::MatrixXd gram_rbf_from_linear(const Eigen::MatrixXd& dot, double threshold) {
  BL_CHECK(threshold > 0, "gram_rbf: threshold must be > 0, got ", threshold);
  BL_CHECK(dot.rows() == dot.cols() && dot.rows() >= 1, "gram_rbf: expected a square Gram matrix, got ", dot.rows(),
           "x", dot.cols());
  const Eigen::VectorXd sq = dot.diagonal();
  Eigen::MatrixXd d2 = (-2 * dot).colwise() + sq;
  d2.rowwise() += sq.transpose();
  std::vector<double> all(d2.data(), d2.data() + d2.size());
  const size_t h = all.size() / 2;
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(h), all.end());
  double median = all[h];
  if (all.size() % 2 == 0) median = (median + *std::max_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(h))) / 2;
  BL_CHECK(median > 0, "gram_rbf: the median squared distance between examples is 0 (most examples coincide)");
  return (-d2 / (2 * threshold * threshold * median)).array().exp().matrix();
}

double cka_from_grams(const Eigen::MatrixXd& k, const Eigen::MatrixXd& l, bool unbiased) {
  BL_CHECK(k.rows() == k.cols() && l.rows() == l.cols() && k.rows() == l.rows() && k.rows() >= (unbiased ? 4 : 2),
           "cka_from_grams: expected two n x n Gram matrices with n >= ", unbiased ? 4 : 2, ", got ", k.rows(), "x",
           k.cols(), " and ", l.rows(), "x", l.cols());
  Eigen::MatrixXd kc = k, lc = l;
  center_gram(kc, unbiased);
  center_gram(lc, unbiased);
  const double den = kc.norm() * lc.norm();
  BL_CHECK(den > 0, "cka_from_grams: a centred Gram matrix is zero (the layer is constant over the examples)");
  return kc.cwiseProduct(lc).sum() / den;
}

Eigen::MatrixXd example_coordinates(const Eigen::MatrixXd& x, double rank_tolerance) {
  return example_coordinates_from_gram(gram_linear(x), rank_tolerance);
}

Eigen::MatrixXd example_coordinates_from_gram(const Eigen::MatrixXd& gram, double rank_tolerance) {
  BL_CHECK(gram.rows() == gram.cols() && gram.rows() >= 1, "example_coordinates: expected a square Gram matrix, got ",
           gram.rows(), "x", gram.cols());
  Eigen::MatrixXd k = gram;
  center_gram(k, false);  // H K H = Xc Xc^T
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(k);
  const Eigen::VectorXd& lam = es.eigenvalues();
  const double top = lam.size() ? lam(lam.size() - 1) : 0.0;
  int64_t r = 0;
  for (int64_t i = 0; i < lam.size(); ++i) r += (top > 0 && lam(i) > rank_tolerance * top) ? 1 : 0;
  Eigen::MatrixXd z(k.rows(), std::max<int64_t>(r, 1));
  z.setZero();
  for (int64_t j = 0; j < r; ++j) {
    const int64_t i = lam.size() - 1 - j;
    z.col(j) = es.eigenvectors().col(i) * std::sqrt(lam(i));
  }
  return z;
}

double similarity(SimilarityMeasure measure, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                  const SimilarityOptions& o) {
  BL_CHECK(x.rows() == y.rows() && x.rows() >= 2 && x.cols() >= 1 && y.cols() >= 1,
           "similarity: expected x [n, p] and y [n, q] with the same n >= 2, got x [", x.rows(), ", ", x.cols(),
           "], y [", y.rows(), ", ", y.cols(), "]");
  if (measure == SimilarityMeasure::CkaRbf)
    return cka_from_grams(gram_rbf(x, o.rbf_threshold), gram_rbf(y, o.rbf_threshold), o.unbiased);
  if (measure == SimilarityMeasure::Cka && (x.cols() > x.rows() || y.cols() > y.rows()))
    return cka_from_grams(gram_linear(x), gram_linear(y), false);  // example space: n x n is smaller
  PairMoments m(x.cols(), y.cols());
  m.add(x, y);
  return similarity_from_moments(measure, m, o);
}

}  // namespace backlight
