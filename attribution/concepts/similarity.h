#pragma once
/// Representation similarity between two sets of activations of the same examples: X [n, p]
/// (layer A, one row per example, features flattened) and Y [n, q] (layer B).
///
///   linear CKA (Kornblith et al. 2019)  ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)
///                                       = <K, L> / (||K|| ||L||) with K = Xc Xc^T, L = Yc Yc^T
///   RBF CKA                             the same on centred RBF Gram matrices; biased HSIC
///                                       (H K H) or unbiased HSIC (Song et al. 2012, as Kornblith's
///                                       debiased centring)
///   CCA mean correlation                mean of rho_i, the singular values of
///                                       Cxx^{-1/2} Cxy Cyy^{-1/2} (pseudo-inverse on each
///                                       covariance's numerical range, so dead units are dropped)
///   SVCCA (Raghu et al. 2017)           CCA after projecting each side on the principal
///                                       directions keeping `keep_variance` (0.99) of its variance
///   PWCCA (Morcos et al. 2018)          sum_i a_i rho_i / sum_i a_i, a_i = sum_j |<h_i, x_j>|
///                                       over the side with fewer features, h_i its (orthonormal)
///                                       canonical variates, x_j its centred feature columns
///
/// Xc is X with column means removed (the means over the n examples). Everything except RBF CKA
/// needs only the first and second moments of [X, Y], which PairMoments accumulates batch by
/// batch (feature space: O(p^2 + q^2 + pq) memory, independent of n). When features outnumber
/// examples, linear CKA is cheaper in example space (n x n Gram matrices): GramCka does that.
/// All arithmetic is in double. Errors throw backlight::Error naming the function and shapes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Dense>

namespace backlight {

enum class SimilarityMeasure { Cka, CkaRbf, Cca, Svcca, Pwcca };

/// "cka" | "cka_rbf" | "cca" | "svcca" | "pwcca"; throws backlight::Error listing them.
SimilarityMeasure similarity_measure_from_string(std::string_view name);
std::string to_string(SimilarityMeasure m);
std::string similarity_measure_names();

struct SimilarityOptions {
  float rbf_threshold = 0.5f;   ///< RBF width: sigma = threshold * sqrt(median squared distance)
  bool unbiased = false;        ///< cka_rbf: unbiased HSIC estimator (linear cka is always biased)
  double keep_variance = 0.99;  ///< svcca: fraction of each side's variance kept by the SVD step
  /// cca/svcca/pwcca: eigenvalues of a covariance below rank_tolerance * its largest are treated
  /// as zero (those directions carry no signal; their correlations are not counted).
  double rank_tolerance = 1e-10;
};

/// First and second moments of the example pairs (x_i, y_i), accumulated batch by batch:
/// n, sum x, sum y, X^T X, Y^T Y, X^T Y. The result of adding batches equals adding all rows at
/// once (up to double rounding), so streaming and one-shot give the same similarity.
class PairMoments {
 public:
  PairMoments(int64_t p, int64_t q);
  /// From sums accumulated elsewhere (a layer-by-layer scan shares X^T X between pairs): n rows,
  /// column sums sx [p], sy [q], uncentred products xx [p,p], yy [q,q], xy [p,q].
  static PairMoments from_sums(int64_t n, Eigen::VectorXd sx, Eigen::VectorXd sy, Eigen::MatrixXd xx,
                               Eigen::MatrixXd yy, Eigen::MatrixXd xy);
  /// Adds rows: x [b, p], y [b, q] with the same b >= 1. Throws on shape mismatch.
  void add(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y);
  int64_t count() const { return n_; }
  /// Centred cross-products Xc^T Xc, Yc^T Yc, Xc^T Yc (not divided by n). Need count() >= 2.
  Eigen::MatrixXd cxx() const;
  Eigen::MatrixXd cyy() const;
  Eigen::MatrixXd cxy() const;

 private:
  int64_t n_ = 0;
  Eigen::VectorXd sx_, sy_;
  Eigen::MatrixXd xx_, yy_, xy_;
};

/// Linear CKA from accumulated moments (feature-space form).
double linear_cka(const PairMoments& m);
/// Canonical correlations rho_1 >= rho_2 >= ... (min of the two numerical ranks of them).
std::vector<double> canonical_correlations(const PairMoments& m, const SimilarityOptions& o = {});
double cca_mean(const PairMoments& m, const SimilarityOptions& o = {});
double svcca(const PairMoments& m, const SimilarityOptions& o = {});
double pwcca(const PairMoments& m, const SimilarityOptions& o = {});
/// Any measure except CkaRbf from moments; throws for CkaRbf (it needs the examples).
double similarity_from_moments(SimilarityMeasure measure, const PairMoments& m, const SimilarityOptions& o = {});

/// Gram matrices of one layer: linear K = X X^T or RBF (Kornblith's gram_rbf: exp(-d^2 /
/// (2 threshold^2 median(d^2))), the median over all n^2 entries).
Eigen::MatrixXd gram_linear(const Eigen::MatrixXd& x);
Eigen::MatrixXd gram_rbf(const Eigen::MatrixXd& x, double threshold);
/// The RBF Gram matrix from the linear one (squared distances are k_ii + k_jj - 2 k_ij), for
/// callers that formed X X^T themselves (e.g. in float, from rows kept as floats).
Eigen::MatrixXd gram_rbf_from_linear(const Eigen::MatrixXd& k, double threshold);
/// CKA of two n x n Gram matrices, centred biased (H K H) or unbiased (Kornblith's debiased
/// centring). n >= 4 for unbiased.
double cka_from_grams(const Eigen::MatrixXd& k, const Eigen::MatrixXd& l, bool unbiased);

/// Coordinates of the examples in the span of the centred rows: z [n, k] with Zc Zc^T =
/// Xc Xc^T (k = numerical rank <= min(n, p)), from the eigendecomposition of the centred Gram
/// matrix. Linear CKA and SVCCA of z equal those of x, at n x n cost when p > n.
Eigen::MatrixXd example_coordinates(const Eigen::MatrixXd& x, double rank_tolerance = 1e-10);
/// The same from the (uncentred) linear Gram matrix k = X X^T.
Eigen::MatrixXd example_coordinates_from_gram(const Eigen::MatrixXd& k, double rank_tolerance = 1e-10);

/// One-shot measure on whole activation matrices x [n, p], y [n, q] (n >= 2, same n). Linear
/// CKA picks the feature-space form when p and q are at most n, else the example-space form.
double similarity(SimilarityMeasure measure, const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                  const SimilarityOptions& o = {});

}  // namespace backlight
