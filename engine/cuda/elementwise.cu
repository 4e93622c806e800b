// Element-wise maps, broadcast binary ops, strided copies and sum reductions (see ops.h).
// One thread per output element with grid-stride loops: simple and obviously correct; these
// ops are memory-bound and the index arithmetic is cheap next to the loads.
#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"

namespace backlight::cuda {

namespace {

// Dims and strides travel by value (kernel parameters), so no device tables are needed.
struct Index8 {
  int rank;
  int64_t dims[kMaxRank];
  int64_t s0[kMaxRank];
  int64_t s1[kMaxRank];
};

// --- kernels
__global__ void map_unary_kernel(maps::Unary op, float p, float q, const float* x, float* y, int64_t n) {
  BL_GRID_LOOP(i, n) y[i] = maps::apply_unary(op, x[i], p, q);
}

__global__ void map_grad_kernel(maps::Grad op, float p, float q, const float* g, const float* v, float* y, int64_t n) {
  BL_GRID_LOOP(i, n) y[i] = maps::apply_grad(op, g[i], v[i], p, q);
}

__global__ void axpby_kernel(float a, const float* x, float b, const float* y, float* out, int64_t n) {
  BL_GRID_LOOP(i, n) out[i] = y ? a * x[i] + b * y[i] : a * x[i];
}

// Offsets of flat output index i under two stride sets.
__device__ inline void offsets(const Index8& ix, int64_t i, int64_t& o0, int64_t& o1) {
  o0 = 0;
  o1 = 0;
  for (int d = ix.rank - 1; d >= 0; --d) {
    const int64_t k = i % ix.dims[d];
    i /= ix.dims[d];
    o0 += k * ix.s0[d];
    o1 += k * ix.s1[d];
  }
}

__global__ void binary_kernel(Binary op, const float* a, const float* b, Index8 ix, int64_t n, float* out) {
  BL_GRID_LOOP(i, n) {
    int64_t oa, ob;
    offsets(ix, i, oa, ob);
    const float va = a[oa], vb = b[ob];
    out[i] = maps::apply_binary(op, va, vb);
  }
}

__global__ void strided_copy_kernel(Index8 ix, int64_t src_offset, int64_t dst_offset, float scale, const float* src,
                                    float* dst, int64_t n) {
  BL_GRID_LOOP(i, n) {
    int64_t os, od;
    offsets(ix, i, os, od);
    dst[dst_offset + od] = scale * src[src_offset + os];
  }
}

// One thread per output element; ix.s0 = x strides of the kept dims, ix.s1 = of the reduced
// dims (dims in ix are kept dims first, then reduced dims, each group in order).
__global__ void reduce_sum_kernel(const float* x, Index8 kept, Index8 red, int64_t n_out, int64_t n_red, float scale,
                                  float* y) {
  BL_GRID_LOOP(o, n_out) {
    int64_t base, unused;
    offsets(kept, o, base, unused);
    double s = 0.0;
    for (int64_t r = 0; r < n_red; ++r) {
      int64_t off, unused2;
      offsets(red, r, off, unused2);
      s += x[base + off];
    }
    y[o] = static_cast<float>(s * scale);
  }
}

__global__ void any_nonzero_kernel(const float* x, int64_t n, int* flag) {
  BL_GRID_LOOP(i, n) if (x[i] != 0.0f) *flag = 1;  // benign race: every writer writes 1
}

// The smallest index of a non-finite value (atomicMin; the slot starts at all ones).
__global__ void first_nonfinite_kernel(const float* x, int64_t n, unsigned long long* slot) {
  BL_GRID_LOOP(i, n) if (!isfinite(x[i])) atomicMin(slot, static_cast<unsigned long long>(i));
}

int64_t product(const int64_t* dims, int rank) {
  int64_t p = 1;
  for (int d = 0; d < rank; ++d) p *= dims[d];
  return p;
}

}  // namespace

// --- launchers
void map_unary(Context& ctx, maps::Unary op, float p, float q, const float* x, float* y, int64_t n) {
  BL_LAUNCH(ctx, n, map_unary_kernel, op, p, q, x, y, n);
}

void map_grad(Context& ctx, maps::Grad op, float p, float q, const float* g, const float* v, float* y, int64_t n) {
  BL_LAUNCH(ctx, n, map_grad_kernel, op, p, q, g, v, y, n);
}

void axpby(Context& ctx, float a, const float* x, float b, const float* y, float* out, int64_t n) {
  BL_LAUNCH(ctx, n, axpby_kernel, a, x, b, b == 0.0f ? nullptr : y, out, n);
}

void binary(Context& ctx, Binary op, const float* a, const int64_t* sa, const float* b, const int64_t* sb,
            const int64_t* dims, int rank, float* out) {
  BL_CHECK(rank <= kMaxRank, "cuda::binary: rank ", rank, " > ", kMaxRank);
  Index8 ix{rank, {}, {}, {}};
  for (int d = 0; d < rank; ++d) {
    ix.dims[d] = dims[d];
    ix.s0[d] = sa[d];
    ix.s1[d] = sb[d];
  }
  const int64_t n = product(dims, rank);
  BL_LAUNCH(ctx, n, binary_kernel, op, a, b, ix, n, out);
}

void strided_copy(Context& ctx, const StridedCopy& c, const float* src, float* dst) {
  BL_CHECK(c.rank <= kMaxRank, "cuda::strided_copy: rank ", c.rank, " > ", kMaxRank);
  Index8 ix{c.rank, {}, {}, {}};
  for (int d = 0; d < c.rank; ++d) {
    ix.dims[d] = c.dims[d];
    ix.s0[d] = c.src_stride[d];
    ix.s1[d] = c.dst_stride[d];
  }
  const int64_t n = product(c.dims, c.rank);
  BL_LAUNCH(ctx, n, strided_copy_kernel, ix, c.src_offset, c.dst_offset, c.scale, src, dst, n);
}

void reduce_sum(Context& ctx, const float* x, const int64_t* dims, int rank, uint32_t mask, float scale, float* y) {
  BL_CHECK(rank <= kMaxRank, "cuda::reduce_sum: rank ", rank, " > ", kMaxRank);
  int64_t strides[kMaxRank];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    strides[d] = s;
    s *= dims[d];
  }
  Index8 kept{0, {}, {}, {}}, red{0, {}, {}, {}};
  for (int d = 0; d < rank; ++d) {
    Index8& t = (mask >> d) & 1u ? red : kept;
    t.dims[t.rank] = dims[d];
    t.s0[t.rank] = strides[d];
    ++t.rank;
  }
  const int64_t n_out = product(kept.dims, kept.rank), n_red = product(red.dims, red.rank);
  BL_LAUNCH(ctx, n_out, reduce_sum_kernel, x, kept, red, n_out, n_red, scale, y);
}

bool any_nonzero(Context& ctx, const float* x, int64_t n) {
  if (n <= 0) return false;
  auto flag = scratch(ctx, sizeof(int));
  use_device(ctx);
  BL_CUDA_CHECK(cudaMemsetAsync(flag.get(), 0, sizeof(int), ctx.stream));
  BL_LAUNCH(ctx, n, any_nonzero_kernel, x, n, reinterpret_cast<int*>(flag.get()));
  int host = 0;
  BL_CUDA_CHECK(cudaMemcpyAsync(&host, flag.get(), sizeof(int), cudaMemcpyDeviceToHost, ctx.stream));
  BL_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  return host != 0;
}

int64_t first_nonfinite(Context& ctx, const float* x, int64_t n) {
  if (n <= 0) return -1;
  auto slot = scratch(ctx, sizeof(unsigned long long));
  use_device(ctx);
  BL_CUDA_CHECK(cudaMemsetAsync(slot.get(), 0xff, sizeof(unsigned long long), ctx.stream));
  BL_LAUNCH(ctx, n, first_nonfinite_kernel, x, n, reinterpret_cast<unsigned long long*>(slot.get()));
  unsigned long long host = 0;
  BL_CUDA_CHECK(
      cudaMemcpyAsync(&host, slot.get(), sizeof(unsigned long long), cudaMemcpyDeviceToHost, ctx.stream));
  BL_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  return host == ~0ull ? -1 : static_cast<int64_t>(host);
}

}  // namespace backlight::cuda
