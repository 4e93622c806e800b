#pragma once
/// Concept activation vectors (Kim et al. 2018, *Interpretability Beyond Feature Attribution:
/// Quantitative Testing with Concept Activation Vectors (TCAV)*, ICML, section 3.1): the normal of
/// a linear classifier that separates a layer's activations of concept examples (label +1) from
/// those of random counterexamples (label -1). Activations are flattened, one row per example.
///
/// Two classifiers:
///   logistic  L2-regularised logistic regression, scikit-learn's LogisticRegression objective
///             0.5 ||w||^2 + C sum_i log(1 + exp(-y_i (x_i . w + b)))   (intercept not penalised)
///             solved to convergence by Newton's method with a backtracking line search:
///             deterministic, no seed. When features outnumber examples (p > n, the usual case
///             for conv layers) it is solved in the example coordinates Z = U S of X = U S V^T
///             (from the n x n Gram matrix): the optimum w lies in the row space of X (the
///             gradient of the loss does, and the regulariser is isotropic), so w = V z exactly
///             and each Newton step costs O(n^3) instead of O(p^3).
///   sgd       scikit-learn's SGDClassifier(loss="hinge", penalty="l2", alpha, max_iter=1000,
///             tol=1e-3, learning_rate="optimal") - Captum's TCAV DefaultClassifier (alpha 0.01):
///             per-sample updates with eta_t = 1 / (alpha (t0 + t - 1)), weight decay
///             (1 - eta alpha), stopping after 5 epochs without the training hinge loss improving
///             by tol * n. Samples are shuffled each epoch with a seeded generator (sklearn's
///             own generator is not reproduced, so runs equal sklearn's only with shuffling off).
///
/// As Captum's DefaultClassifier, a fraction `test_split` (default 0.33) of the examples, drawn
/// with the seed, is held out and the CAV's accuracy is measured on it (0 trains on all).
#include <cstdint>
#include <string>
#include <string_view>

#include <Eigen/Dense>

namespace backlight {

enum class CavClassifier { Logistic, Sgd };

/// "logistic" | "sgd"; throws backlight::Error naming the accepted values.
CavClassifier cav_classifier_from_string(std::string_view name);
std::string to_string(CavClassifier c);

struct CavOptions {
  CavClassifier classifier = CavClassifier::Logistic;
  double c = 1.0;         ///< logistic: inverse regularisation strength (sklearn's C)
  double alpha = 0.01;    ///< sgd: L2 regularisation (sklearn's alpha; Captum uses 0.01)
  int max_iter = 1000;    ///< sgd: epochs; logistic: Newton iterations (it needs ~10-30)
  double tol = 1e-3;      ///< sgd: stopping tolerance on the epoch's training loss (sklearn's tol)
  bool shuffle = true;    ///< sgd: reshuffle the training examples every epoch (seeded)
  double test_split = 0.33;  ///< held-out fraction for the accuracy (Captum's default); 0: none
  uint64_t seed = 0;      ///< split and sgd shuffling
};

struct Cav {
  Eigen::VectorXf direction;  ///< unit normal, pointing towards the concept [p]
  Eigen::VectorXd weights;    ///< the classifier's coefficients w (concept = +1) [p]
  double intercept = 0;
  double accuracy = 0;        ///< on the held-out examples (on the training examples when test_split = 0)
  int iterations = 0;         ///< Newton steps or sgd epochs
  bool converged = true;
};

/// Trains a CAV on concept activations [n_c, p] against random activations [n_r, p] (rows are
/// examples). Throws backlight::Error when the feature counts differ, a side has fewer than 2
/// examples (or none left for training after the split), a value is not finite, or the options
/// are out of range (c, alpha, tol > 0, max_iter >= 1, 0 <= test_split < 1).
Cav train_cav(const Eigen::MatrixXf& concept_acts, const Eigen::MatrixXf& random, const CavOptions& options = {});

/// The logistic regression itself on X [n, p] with labels y in {-1, +1}: returns w [p] and
/// writes the intercept. Stops when the gradient's largest entry is below 1e-9 * max(1, C n).
Eigen::VectorXd logistic_regression(const Eigen::MatrixXf& x, const Eigen::VectorXd& y, double c, int max_iter,
                                    double* intercept, int* iterations = nullptr, bool* converged = nullptr);

/// sklearn's plain SGD (hinge, l2, learning_rate "optimal") on X [n, p], y in {-1, +1}, visiting
/// the rows in `order` each epoch (reshuffled with `seed` when `shuffle`).
Eigen::VectorXd sgd_hinge(const Eigen::MatrixXf& x, const Eigen::VectorXd& y, double alpha, int max_iter, double tol,
                          bool shuffle, uint64_t seed, double* intercept, int* epochs = nullptr,
                          bool* converged = nullptr);

}  // namespace backlight
