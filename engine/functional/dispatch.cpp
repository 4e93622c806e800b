#include "engine/functional/dispatch.h"

#include "engine/error.h"

namespace backlight::fn {

void check_same_device(const char* op, const Workspace* ws, std::initializer_list<const Tensor*> tensors) {
  const cuda::Context* ctx = ws ? ws->cuda_context() : nullptr;
  const Tensor* first = nullptr;  // the first defined tensor, for the message
  int index = 0, first_index = -1;
  for (const Tensor* t : tensors) {
    if (t->defined()) {
      if (!first) {
        first = t;
        first_index = index;
        if (!ctx) ctx = t->cuda_context();
      }
      if (t->cuda_context() != ctx) {
        if (t->is_cuda() && ctx && first->is_cuda())
          BL_THROW(op, ": inputs ", first_index, " and ", index,
                   " are on different CUDA contexts (made by different Workspace::for_cuda calls); use one workspace");
        BL_THROW(op, ": mixed devices: input ", index, " ", t->shape(), " is on ", to_string(t->device()),
                 " but ", (ws && ws->cuda_context() ? "the workspace allocates on cuda" :
                           detail::concat("input ", first_index, " ", first->shape(), " is on ",
                                          to_string(first->device()))),
                 "; move tensors with Tensor::to() or Module::to()");
      }
    }
    ++index;
  }
}

}  // namespace backlight::fn
