#pragma once
// The TCAV fixture (tools/reference/make_tcav_fixtures.py) and small helpers shared by the TCAV tests.
#include <string>

#include <Eigen/Dense>

#include "models/safetensors.h"
#include "tests/parity_nets.h"

namespace backlight::test {

inline const SafeTensorsFile& tcav_fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/tcav_parity.safetensors");
  return f;
}

inline Tensor tcav_tensor(const std::string& name) { return fixture_tensor(tcav_fixture(), name); }

// A fixture tensor as an Eigen matrix [rows, numel / rows] (row-major data).
inline Eigen::MatrixXf tcav_matrix(const std::string& name, int64_t rows) {
  const Tensor t = tcav_tensor(name);
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.data(), rows,
                                                                                                 t.numel() / rows);
}

inline Eigen::VectorXd tcav_vector(const std::string& name) {
  const Tensor t = tcav_tensor(name);
  return Eigen::Map<const Eigen::VectorXf>(t.data(), t.numel()).cast<double>();
}

inline double cosine(const Eigen::VectorXd& a, const Eigen::VectorXd& b) { return a.dot(b) / (a.norm() * b.norm()); }

}  // namespace backlight::test
