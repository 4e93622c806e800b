// bench_kernels: the fused attribution kernels, every variant - IG interpolate and accumulate
// (kernels/ig.h), occlusion batch construction and scatter (kernels/occlusion.h).
//
//   bench_kernels [--json] [--quick] [--only ig_accumulate/cpu] [--variant ref|cpu|cuda]
//
// Variants: ref (naive loops, double accumulation: the tests' reference), cpu (threaded, what
// the methods run), cuda (CUDA builds with a device; otherwise "cuda: skipped, no device").
// cpu and cuda are validated against ref before they are timed (max |a - b| <= 1e-5 + 1e-5 |ref|;
// the occlusion builders must match exactly).
//
// Sizes (the attribution workloads' chunks; --quick: 3x32x32 items, a few steps or positions):
//   ig_*/b1   1 item of 3x224x224, a chunk of 10 steps     (IG-50 at internal batch 10)
//   ig_*/b16  16 items, a chunk of 1 step                   (IG-50 at batch 16, 16 rows per chunk)
//   occlude_batch/b1   64 positions of window 3x16x16 stride 3x8x8 on 1 item (one forward's rows)
//   occlusion_scatter/b{1,16}  all 729 positions into 1 or 16 items
// GB/s = bytes read + written by the kernel's arithmetic (not counting cache reuse) / median:
//   ig_interpolate   reads x and b (2 items), writes steps x items rows
//   ig_accumulate    reads steps x items rows of gradients, reads and writes acc
//   occlude_batch    writes count x items rows, reads the same amount of input (from cache)
//   occlusion_scatter reads diffs, reads and writes attr [items] and counts [1 item]
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/tensor.h"
#include "engine/cuda/device.h"
#include "kernels/ig.h"
#include "kernels/occlusion.h"
#include "bench/random_tensor.h"

#ifdef BACKLIGHT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

using namespace backlight;
using bench::uniform;

namespace {

const char* const kVariants[] = {"ref", "cpu", "cuda"};

// "" when |got - want| <= atol + rtol |want| everywhere, else the first mismatches.
std::string compare(const Tensor& got, const Tensor& want, double atol, double rtol) {
  std::ostringstream os;
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double a = got.data()[i], b = want.data()[i];
    if (std::fabs(a - b) <= atol + rtol * std::fabs(b)) continue;
    if (bad++ < 5) os << "  [" << i << "] got " << a << ", reference " << b << "\n";
  }
  if (!bad) return "";
  return std::to_string(bad) + " of " + std::to_string(want.numel()) + " elements differ:\n" + os.str();
}

#ifdef BACKLIGHT_HAVE_CUDA
// A device copy of a host tensor (or an uninitialised one of its size); freed on destruction.
struct DeviceBuffer {
  float* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(const Tensor& host, bool copy = true) : bytes(host.numel() * sizeof(float)) {
    BL_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), bytes) == cudaSuccess, "bench_kernels: cudaMalloc of ",
             bytes, " bytes failed");
    if (copy) BL_CHECK(cudaMemcpy(ptr, host.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess, "cudaMemcpy");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(ptr); }
  Tensor to_host(const Shape& s) const {
    Tensor t = Tensor::empty(s);
    BL_CHECK(cudaMemcpy(t.data(), ptr, bytes, cudaMemcpyDeviceToHost) == cudaSuccess, "cudaMemcpy");
    return t;
  }
};
#endif

// One kernel configuration: run(variant) executes it once (results in its own buffers),
// result(variant) returns the output to validate, and `bytes` feeds GB/s.
struct KernelCase {
  std::string name;  // without the variant
  double bytes = 0;
  std::function<void(const std::string& variant)> run;
  std::function<Tensor(const std::string& variant)> result;
  double atol = 1e-5, rtol = 1e-5;
};

void bench_case(const bench::Options& opt, bench::Reporter& rep, const KernelCase& k) {
  const std::string only_variant = opt.get("--variant");
  for (const char* v : kVariants) {
    const std::string variant = v;
    if (!only_variant.empty() && only_variant != variant) continue;
    const std::string name = k.name + "/" + variant;
    if (!opt.selected(name)) continue;
    if (variant == "cuda" && cuda_device_count() == 0) {
      if (opt.json)
        rep.emit(bench::Record(name).add("skipped", "no device"));
      else
        std::printf("%-40s cuda: skipped, no device\n", name.c_str());
      continue;
    }
    if (variant != "ref") {
      const bool ok = rep.validate(name, [&] {
        k.result("ref");  // accumulating kernels: result() also zeroes the buffers timed calls filled
        k.result(variant);
        k.run("ref");
        const Tensor want = k.result("ref");
        k.run(variant);
        return compare(k.result(variant), want, k.atol, k.rtol);
      });
      if (!ok) continue;  // a wrong result is not timed
    }
    const bench::Stats s = bench::measure(opt, [&] { k.run(variant); });
    rep.emit(bench::Record(name)
                 .add("variant", variant)
                 .add("threads", variant == "cpu" ? num_threads() : 1)
                 .add("mbytes", k.bytes / 1e6)
                 .add("gbps", k.bytes / s.median / 1e9),
             s);
  }
}

// --- IG --------------------------------------------------------------------------------------------

void bench_ig(const bench::Options& opt, bench::Reporter& rep) {
  struct Size {
    const char* label;
    int64_t items, per_item, steps;
  };
  const int64_t per = opt.quick ? 3 * 32 * 32 : 3 * 224 * 224;
  const Size sizes[] = {{"b1", 1, per, opt.quick ? 4 : 10}, {"b16", 16, per, opt.quick ? 2 : 1}};
  for (const Size& z : sizes) {
    const Tensor x = uniform(Shape{z.items, z.per_item}, 1), b = uniform(Shape{z.items, z.per_item}, 2);
    const Tensor grads = uniform(Shape{z.steps * z.items, z.per_item}, 3);
    std::vector<float> alphas(static_cast<size_t>(z.steps)), weights(alphas.size());
    for (int64_t k = 0; k < z.steps; ++k) {
      alphas[k] = (k + 0.5f) / static_cast<float>(z.steps);
      weights[k] = 1.0f / static_cast<float>(z.steps);
    }
    const IgChunk c{x.data(), b.data(), z.items, z.per_item, alphas.data(), weights.data(), z.steps};
    Tensor out = Tensor::empty(grads.shape()), out_ref = Tensor::empty(grads.shape());
    Tensor acc = Tensor::zeros(x.shape()), acc_ref = Tensor::zeros(x.shape());
#ifdef BACKLIGHT_HAVE_CUDA
    std::unique_ptr<DeviceBuffer> dx, db, dgrads, dout, dacc;
    IgChunk dc = c;
    if (cuda_device_count() > 0) {
      dx = std::make_unique<DeviceBuffer>(x);
      db = std::make_unique<DeviceBuffer>(b);
      dgrads = std::make_unique<DeviceBuffer>(grads);
      dout = std::make_unique<DeviceBuffer>(out, false);
      dacc = std::make_unique<DeviceBuffer>(acc);
      dc.input = dx->ptr;
      dc.baseline = db->ptr;
    }
#endif
    const std::string shape = std::string(z.label) + "/" + std::to_string(z.steps) + "steps";
    const double rows = static_cast<double>(z.steps * z.items * z.per_item);
    const double item = static_cast<double>(z.items * z.per_item);
    bench_case(opt, rep,
               {"ig_interpolate/" + shape, 4.0 * (2 * item + rows),
                [&](const std::string& v) {
                  if (v == "ref") ig_interpolate_ref(c, out_ref.data());
                  else if (v == "cpu") ig_interpolate_cpu(c, out.data());
#ifdef BACKLIGHT_HAVE_CUDA
                  else {
                    ig_interpolate_cuda(dc, dout->ptr, nullptr);
                    cudaDeviceSynchronize();
                  }
#endif
                },
                [&](const std::string& v) {
#ifdef BACKLIGHT_HAVE_CUDA
                  if (v == "cuda") return dout->to_host(out.shape());
#endif
                  return v == "ref" ? out_ref : out;
                }});
    // Accumulation adds into acc on every call; validation compares one call from zero.
    bench_case(opt, rep,
               {"ig_accumulate/" + shape, 4.0 * (rows + 2 * item),
                [&](const std::string& v) {
                  if (v == "ref") ig_accumulate_ref(c, grads.data(), acc_ref.data());
                  else if (v == "cpu") ig_accumulate_cpu(c, grads.data(), acc.data());
#ifdef BACKLIGHT_HAVE_CUDA
                  else {
                    ig_accumulate_cuda(dc, dgrads->ptr, dacc->ptr, nullptr);
                    cudaDeviceSynchronize();
                  }
#endif
                },
                [&](const std::string& v) {
                  Tensor r;
#ifdef BACKLIGHT_HAVE_CUDA
                  if (v == "cuda") {
                    r = dacc->to_host(acc.shape());
                    cudaMemset(dacc->ptr, 0, dacc->bytes);
                  }
#endif
                  if (v == "ref") r = acc_ref.clone(), acc_ref.fill(0.0f);
                  if (v == "cpu") r = acc.clone(), acc.fill(0.0f);
                  return r;
                }});
  }
}

// --- occlusion -------------------------------------------------------------------------------------

void bench_occlusion(const bench::Options& opt, bench::Reporter& rep) {
  const std::vector<int64_t> dims = opt.quick ? std::vector<int64_t>{3, 32, 32} : std::vector<int64_t>{3, 224, 224};
  const std::vector<int64_t> window = opt.quick ? std::vector<int64_t>{3, 8, 8} : std::vector<int64_t>{3, 16, 16};
  const std::vector<int64_t> stride = opt.quick ? std::vector<int64_t>{3, 4, 4} : std::vector<int64_t>{3, 8, 8};
  const OcclusionGeometry g = occlusion_geometry(dims, window, stride);
  const std::string geo = "w" + std::to_string(window[1]) + "s" + std::to_string(stride[1]);

  {  // build: one forward's worth of rows for 1 item
    const int64_t items = 1, count = std::min<int64_t>(g.positions, opt.quick ? 16 : 64);
    const Tensor x = uniform(Shape{items, g.numel}, 4);
    const BaselineRef base{.value = 0.0f};
    Tensor out = Tensor::empty(Shape{count * items, g.numel}), out_ref = Tensor::empty(out.shape());
#ifdef BACKLIGHT_HAVE_CUDA
    std::unique_ptr<DeviceBuffer> dx, dout;
    if (cuda_device_count() > 0) {
      dx = std::make_unique<DeviceBuffer>(x);
      dout = std::make_unique<DeviceBuffer>(out, false);
    }
#endif
    const double bytes = 4.0 * 2 * static_cast<double>(out.numel());
    KernelCase k{"occlude_batch/b1/" + geo + "/" + std::to_string(count) + "pos", bytes,
                 [&](const std::string& v) {
                   if (v == "ref") occlude_batch_ref(x.data(), items, base, g, 5, count, out_ref.data());
                   else if (v == "cpu") occlude_batch_cpu(x.data(), items, base, g, 5, count, out.data());
#ifdef BACKLIGHT_HAVE_CUDA
                   else {
                     occlude_batch_cuda(dx->ptr, items, base, g, 5, count, dout->ptr, nullptr);
                     cudaDeviceSynchronize();
                   }
#endif
                 },
                 [&](const std::string& v) {
#ifdef BACKLIGHT_HAVE_CUDA
                   if (v == "cuda") return dout->to_host(out.shape());
#endif
                   return v == "ref" ? out_ref : out;
                 },
                 0.0, 0.0};
    bench_case(opt, rep, k);
  }
  for (const int64_t items : {int64_t{1}, int64_t{16}}) {  // scatter: every position into the map
    const Tensor diffs = uniform(Shape{g.positions, items}, 5);
    Tensor attr = Tensor::zeros(Shape{items, g.numel}), counts = Tensor::zeros(Shape{g.numel});
    Tensor attr_ref = attr.clone(), counts_ref = counts.clone();
#ifdef BACKLIGHT_HAVE_CUDA
    std::unique_ptr<DeviceBuffer> dd, dattr, dcounts;
    if (cuda_device_count() > 0) {
      dd = std::make_unique<DeviceBuffer>(diffs);
      dattr = std::make_unique<DeviceBuffer>(attr);
      dcounts = std::make_unique<DeviceBuffer>(counts);
    }
#endif
    const double bytes = 4.0 * (static_cast<double>(diffs.numel()) + 2.0 * attr.numel() + 2.0 * counts.numel());
    KernelCase k{"occlusion_scatter/b" + std::to_string(items) + "/" + geo + "/" + std::to_string(g.positions) + "pos",
                 bytes,
                 [&](const std::string& v) {
                   if (v == "ref") occlusion_scatter_ref(diffs.data(), items, g, attr_ref.data(), counts_ref.data());
                   else if (v == "cpu") occlusion_scatter_cpu(diffs.data(), items, g, attr.data(), counts.data());
#ifdef BACKLIGHT_HAVE_CUDA
                   else {
                     occlusion_scatter_cuda(dd->ptr, items, g, dattr->ptr, dcounts->ptr, nullptr);
                     cudaDeviceSynchronize();
                   }
#endif
                 },
                 [&](const std::string& v) {
                   // attr and counts of one call from zero, side by side (then zeroed again).
                   Tensor a, c;
#ifdef BACKLIGHT_HAVE_CUDA
                   if (v == "cuda") {
                     a = dattr->to_host(attr.shape());
                     c = dcounts->to_host(counts.shape());
                     cudaMemset(dattr->ptr, 0, dattr->bytes);
                     cudaMemset(dcounts->ptr, 0, dcounts->bytes);
                   }
#endif
                   if (v != "cuda") {
                     Tensor& at = v == "ref" ? attr_ref : attr;
                     Tensor& ct = v == "ref" ? counts_ref : counts;
                     a = at.clone(), c = ct.clone();
                     at.fill(0.0f), ct.fill(0.0f);
                   }
                   Tensor both = Tensor::empty(Shape{a.numel() + c.numel()});
                   std::copy(a.data(), a.data() + a.numel(), both.data());
                   std::copy(c.data(), c.data() + c.numel(), both.data() + a.numel());
                   return both;
                 }};
    bench_case(opt, rep, k);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    bench::Reporter rep(opt);
    rep.note("threads: " + std::to_string(num_threads()) + ", CUDA devices: " + std::to_string(cuda_device_count()));
    bench_ig(opt, rep);
    bench_occlusion(opt, rep);
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 2;
  }
}
