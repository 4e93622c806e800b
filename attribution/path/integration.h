#pragma once
/// Integration rules for path methods (Captum's approximation_methods, reproduced exactly):
///   riemann_left    alphas linspace(0, 1 - 1/n, n),          weights 1/n
///   riemann_right   alphas linspace(1/n, 1, n),              weights 1/n
///   riemann_middle  alphas linspace(1/(2n), 1 - 1/(2n), n),  weights 1/n
///   riemann_trapezoid alphas linspace(0, 1, n), weights 1/n with the first and last halved
///                   (so they sum to (n-1)/n, as Captum: a ~2% completeness gap at n = 50)
///   gausslegendre   Gauss-Legendre nodes and weights mapped from [-1, 1] to [0, 1] (default)
#include <string_view>
#include <vector>

namespace backlight {

enum class Integration { RiemannLeft, RiemannRight, RiemannMiddle, RiemannTrapezoid, GaussLegendre };

struct IntegrationRule {
  std::vector<double> alphas;
  std::vector<double> weights;
};

/// Nodes and weights for `steps` points; throws for steps < 1 (riemann rules need >= 2, as Captum).
IntegrationRule integration_rule(Integration method, int steps);
/// Parses "riemann_left" ... "gausslegendre"; throws listing the accepted names.
Integration integration_from_string(std::string_view name);
std::string_view to_string(Integration method);

}  // namespace backlight
