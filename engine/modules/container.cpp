#include "engine/modules/container.h"

#include "engine/error.h"

namespace backlight {

Sequential::Sequential(std::initializer_list<ModulePtr> modules) {
  for (const ModulePtr& m : modules) push_back(m);
}

Sequential::Sequential(const std::vector<ModulePtr>& modules) {
  for (const ModulePtr& m : modules) push_back(m);
}

Sequential& Sequential::push_back(ModulePtr module) {
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

Sequential& Sequential::add(std::string name, ModulePtr module) {
  register_module(std::move(name), std::move(module));
  return *this;
}

const Module& Sequential::operator[](size_t i) const {
  BL_CHECK(i < children().size(), "Sequential '", path(), "': index ", i, " out of range for ", children().size(),
           " children");
  return *children()[i].second;
}

Module& Sequential::operator[](size_t i) {
  return const_cast<Module&>(static_cast<const Sequential&>(*this)[i]);
}

Var Sequential::forward(const Var& x) const {
  Var y = x;
  for (const auto& [name, m] : children()) y = m->forward(y);
  return y;
}

}  // namespace backlight
