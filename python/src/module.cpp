// backlight._core: the extension module. Exceptions: backlight::Error (bad arguments, shapes,
// unknown names) -> ValueError, FileError -> OSError, anything else -> RuntimeError, always with
// the C++ message; nothing escapes as a crash.
#include <atomic>

#include "engine/error.h"
#include "engine/parallel.h"
#include "python/src/bind.h"

namespace backlight::python {

namespace {
// The process-wide thread count set from Python (torch.set_num_threads has the same scope);
// OpenMP's own setting is per OS thread, so every computing call applies it on its thread.
std::atomic<int> g_threads{0};
}  // namespace

void apply_num_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) set_num_threads(n);
}

Tensor to_tensor(const InArray& a, const char* what, bool allow_scalar) {
  if (a.ndim() == 0 && !allow_scalar)
    throw nb::value_error((std::string(what) + ": expected an array with at least one dimension, got a scalar").c_str());
  if (a.ndim() > static_cast<size_t>(Shape::kMaxDims))
    throw nb::value_error((std::string(what) + ": at most 8 dimensions, got " + std::to_string(a.ndim())).c_str());
  Shape shape;
  for (size_t i = 0; i < a.ndim(); ++i) shape.push_back(static_cast<int64_t>(a.shape(i)));
  if (a.ndim() == 0) shape.push_back(1);
  // The deleter may run on a thread without the GIL (a result released after the call): the
  // array's reference is dropped under the GIL.
  auto* keep = new InArray(a);
  std::shared_ptr<float> owner(const_cast<float*>(a.data()), [keep](float*) {
    nb::gil_scoped_acquire gil;
    delete keep;
  });
  return Tensor::wrap(shape, std::move(owner));
}

OutArray to_numpy(const Tensor& t) {
  BL_CHECK(t.defined(), "to_numpy: undefined tensor");
  BL_CHECK(!t.is_cuda(), "to_numpy: expected a CPU tensor");
  auto* keep = new Tensor(t);
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<size_t> shape;
  for (int64_t d : t.shape().dims()) shape.push_back(static_cast<size_t>(d));
  return OutArray(const_cast<float*>(keep->data()), shape.size(), shape.data(), owner);
}

}  // namespace backlight::python

NB_MODULE(_core, m) {
  namespace nb = nanobind;
  using namespace backlight::python;
  m.doc() = "backlight's C++ core (use the backlight package, not this module directly)";
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const FileError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const backlight::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("set_num_threads", [](int n) {
    if (n < 0) throw nb::value_error("set_num_threads: expected n >= 0 (0: OpenMP's default), got a negative value");
    g_threads.store(n);
  }, nb::arg("n"), "Threads each computation uses (0: all cores, OpenMP's default).");
  m.def("get_num_threads", []() {
    const int n = g_threads.load();
    return n > 0 ? n : backlight::num_threads();
  }, "Threads each computation uses.");
  bind_model(m);
  bind_attribute(m);
  bind_rules(m);
  bind_metrics(m);
}
