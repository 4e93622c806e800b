#pragma once
/// The three transforms of Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, "Fast
/// Algorithms for Convolutional Neural Networks", CVPR 2016), written once for any element type
/// T with + and - (float in the tests, an 8-lane vector of 8 tiles in conv_winograd.cpp):
///
///   Y (2x2) = A^T [ (G g G^T) .* (B^T d B) ] A     for an input tile d (4x4) and a kernel g (3x3)
///
///   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
///         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
///         [0 -1  1  0]         [1/2 -1/2  1/2]
///         [0  1  0 -1]         [ 0    0    1 ]
///
/// Y is the 2x2 block of the cross-correlation of d with g (Y[r][s] = sum_ij d[r+i][s+j] g[i][j]),
/// with 16 multiplies instead of 36. Every coefficient is 0, +-1 or +-1/2, so the transforms
/// themselves round only in their additions.
namespace backlight::fn::winograd {

/// v = B^T d B (4x4 -> 4x4).
template <class T>
inline void input_transform(const T (&d)[4][4], T (&v)[4][4]) {
  T t[4][4];  // B^T d
  for (int j = 0; j < 4; ++j) {
    t[0][j] = d[0][j] - d[2][j];
    t[1][j] = d[1][j] + d[2][j];
    t[2][j] = d[2][j] - d[1][j];
    t[3][j] = d[1][j] - d[3][j];
  }
  for (int i = 0; i < 4; ++i) {
    v[i][0] = t[i][0] - t[i][2];
    v[i][1] = t[i][1] + t[i][2];
    v[i][2] = t[i][2] - t[i][1];
    v[i][3] = t[i][1] - t[i][3];
  }
}

/// u = G g G^T (3x3 -> 4x4); T also needs T * float.
template <class T>
inline void weight_transform(const T (&g)[3][3], T (&u)[4][4]) {
  T t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = g[0][j];
    t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
    t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
    t[3][j] = g[2][j];
  }
  for (int i = 0; i < 4; ++i) {
    u[i][0] = t[i][0];
    u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
    u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
    u[i][3] = t[i][2];
  }
}

/// y = A^T m A (4x4 -> 2x2).
template <class T>
inline void output_transform(const T (&m)[4][4], T (&y)[2][2]) {
  T s[2][4];  // A^T m
  for (int j = 0; j < 4; ++j) {
    s[0][j] = m[0][j] + m[1][j] + m[2][j];
    s[1][j] = m[1][j] - m[2][j] - m[3][j];
  }
  for (int i = 0; i < 2; ++i) {
    y[i][0] = s[i][0] + s[i][1] + s[i][2];
    y[i][1] = s[i][1] - s[i][2] - s[i][3];
  }
}

}  // namespace backlight::fn::winograd
