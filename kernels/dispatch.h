#pragma once
/// Per-device dispatch of the fused attribution kernels, so that each method is written once for
/// both devices: every function takes the tiers' arguments (kernels/ig.h, occlusion.h, noise.h)
/// plus `ctx`, and runs the threaded *_cpu tier when ctx is null, else the *_cuda tier on ctx's
/// stream with ctx's device made current (pointers are then device memory of that context).
/// Pass ws.cuda_context() of the workspace the buffers came from, or tensor.cuda_context().
/// Nothing here synchronises unless it says so; in a build without the CUDA backend a non-null
/// ctx cannot exist (and throws backlight::Error if one is passed anyway).
#include <cstdint>
#include <memory>

#include "engine/device.h"
#include "kernels/ig.h"
#include "kernels/noise.h"
#include "kernels/occlusion.h"

namespace backlight {

// --- integrated gradients (kernels/ig.h; alphas and weights are host arrays on both tiers)
void ig_interpolate(const IgChunk& c, float* out, cuda::Context* ctx);
void ig_accumulate(const IgChunk& c, const float* grads, float* acc, cuda::Context* ctx);
void ig_finish(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr,
               cuda::Context* ctx);

// --- occlusion sweep and feature masks (kernels/occlusion.h)
void occlude_batch(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g, int64_t first,
                   int64_t count, float* out, cuda::Context* ctx);
void occlusion_scatter(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts,
                       cuda::Context* ctx);
void occlusion_divide(float* attr, int64_t items, int64_t numel, const float* counts, cuda::Context* ctx);
void mask_ablate(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                 int32_t first_id, int64_t count, float* out, cuda::Context* ctx);
void mask_scatter(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask, int32_t first_id,
                  float* attr, cuda::Context* ctx);

// --- noise tunnel (kernels/noise.h)
void noise_rows(const NoiseRows& r, float* out, cuda::Context* ctx);
void moments_add(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq,
                 cuda::Context* ctx);
void moments_finish(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                    float* out, cuda::Context* ctx);

// --- buffers the kernels need besides float tensors

/// `count` zeroed doubles: host memory when ctx is null, else a block of ctx's caching
/// allocator (zeroed on its stream). Dropping the pointer releases the block.
std::shared_ptr<double> zeroed_doubles(int64_t count, cuda::Context* ctx);
/// The int32 ids `host[0..count)` where the kernels of ctx read them: the host array itself
/// (not copied; it must outlive the use) when ctx is null, else a device copy from ctx's caching
/// allocator (an asynchronous upload; the host array may be reused once this returns).
std::shared_ptr<const int32_t> ids_for(const int32_t* host, int64_t count, cuda::Context* ctx);

/// The index of the first NaN or infinite value of x[0..n), or -1. On the device it syncs and
/// only the index comes back (require_finite, attribution/core/pass.h).
int64_t first_nonfinite(const float* x, int64_t n, cuda::Context* ctx);

}  // namespace backlight
