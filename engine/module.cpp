#include "engine/module.h"

#include "engine/error.h"

namespace backlight {

namespace {

std::string join_path(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  std::string s(prefix);
  s += '.';
  s += name;
  return s;
}

// "weight, bias" (or "none") for error messages.
template <class Entries>
std::string list_names(const Entries& entries) {
  std::string s;
  for (const auto& e : entries) {
    if (!s.empty()) s += ", ";
    s += e.first;
  }
  return s.empty() ? "none" : s;
}

template <class Entries>
auto* find_entry(Entries& entries, std::string_view name) {
  for (auto& e : entries)
    if (e.first == name) return &e;
  return static_cast<decltype(&entries.front())>(nullptr);
}

// "Linear 'classifier'" or "Sequential (root)".
std::string describe(const Module& m) {
  return m.path().empty() ? m.type_name() + " (root)" : m.type_name() + " '" + m.path() + "'";
}

}  // namespace

void Module::set_path(std::string path) {
  path_ = std::move(path);
  for (auto& [name, child] : children_) child->set_path(join_path(path_, name));
}

// --- tree -----------------------------------------------------------------------------------------

const Module& Module::child(std::string_view name) const {
  const auto* e = find_entry(children_, name);
  BL_CHECK(e, "Module::child: ", describe(*this), " has no child '", name, "' (children: ", list_names(children_),
           ")");
  return *e->second;
}

Module& Module::child(std::string_view name) {
  return const_cast<Module&>(static_cast<const Module&>(*this).child(name));
}

const Module* Module::find(std::string_view dotted) const {
  const Module* m = this;
  while (!dotted.empty()) {
    const size_t dot = dotted.find('.');
    const std::string_view head = dotted.substr(0, dot);
    const auto* e = find_entry(m->children_, head);
    if (!e) return nullptr;
    m = e->second.get();
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  return m;
}

Module* Module::find(std::string_view dotted) {
  return const_cast<Module*>(static_cast<const Module&>(*this).find(dotted));
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out{{path_, this}};
  for (const auto& [name, c] : children_) {
    auto sub = c->named_modules();
    out.insert(out.end(), std::make_move_iterator(sub.begin()), std::make_move_iterator(sub.end()));
  }
  return out;
}

// --- parameters and buffers -----------------------------------------------------------------------

const Tensor& Module::parameter(std::string_view name) const {
  const auto* e = find_entry(params_, name);
  BL_CHECK(e, "Module::parameter: ", describe(*this), " has no parameter '", name,
           "' (parameters: ", list_names(params_), ")");
  return e->second;
}

Tensor& Module::parameter(std::string_view name) {
  return const_cast<Tensor&>(static_cast<const Module&>(*this).parameter(name));
}

const Tensor& Module::buffer(std::string_view name) const {
  const auto* e = find_entry(buffers_, name);
  BL_CHECK(e, "Module::buffer: ", describe(*this), " has no buffer '", name, "' (buffers: ", list_names(buffers_),
           ")");
  return e->second;
}

Tensor& Module::buffer(std::string_view name) {
  return const_cast<Tensor&>(static_cast<const Module&>(*this).buffer(name));
}

bool Module::has_parameter(std::string_view name) const { return find_entry(params_, name) != nullptr; }

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [path, m] : named_modules())
    for (const auto& [name, t] : m->params_) out.emplace_back(join_path(path, name), t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [path, m] : named_modules())
    for (const auto& [name, t] : m->buffers_) out.emplace_back(join_path(path, name), t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict() const {
  // PyTorch's _save_to_state_dict: a module's own parameters, then its buffers, then each child.
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [path, m] : named_modules()) {
    for (const auto& [name, t] : m->params_) out.emplace_back(join_path(path, name), t);
    for (const auto& [name, t] : m->buffers_) out.emplace_back(join_path(path, name), t);
  }
  return out;
}

bool Module::set_tensor(std::string_view full_name, const Tensor& value) {
  std::string_view rel = full_name;
  if (!path_.empty()) {
    if (rel.size() <= path_.size() + 1 || rel.substr(0, path_.size()) != path_ || rel[path_.size()] != '.')
      return false;
    rel.remove_prefix(path_.size() + 1);
  }
  const size_t dot = rel.rfind('.');
  Module* owner = dot == std::string_view::npos ? this : find(rel.substr(0, dot));
  if (!owner) return false;
  const std::string_view local = dot == std::string_view::npos ? rel : rel.substr(dot + 1);
  auto* e = find_entry(owner->params_, local);
  if (!e) e = find_entry(owner->buffers_, local);
  if (!e) return false;
  BL_CHECK(value.defined(), "Module::set_tensor: no tensor given for '", full_name, "'");
  BL_CHECK_SHAPE(value.shape() == e->second.shape(), "Module::set_tensor: '", full_name, "' expects shape ",
                 e->second.shape(), ", got ", value.shape());
  e->second = value;
  return true;
}

ModulePtr Module::clone() const {
  ModulePtr copy = shallow_copy();
  // The shallow copy shares tensors and children with this module; replace every one of them.
  for (auto& [name, t] : copy->params_) t = t.clone();
  for (auto& [name, t] : copy->buffers_) t = t.clone();
  for (auto& [name, c] : copy->children_) c = c->clone();
  return copy;
}

namespace {
// A copy of t on `device`, on ws's CUDA context for the device (through the host when t is on
// another context).
Tensor copy_to(const Tensor& t, Device device, const Workspace* ws) {
  if (device == Device::CPU) return t.is_cuda() ? t.to_cpu() : t.clone(ws);
  if (t.is_cuda() && ws && t.cuda_context() == ws->cuda_context()) return t.clone();
  return t.to_cpu().to(Device::CUDA, ws);
}
}  // namespace

ModulePtr Module::to(Device device, const Workspace* ws) const {
  ModulePtr copy = shallow_copy();
  for (auto& [name, t] : copy->params_) t = copy_to(t, device, ws);
  for (auto& [name, t] : copy->buffers_) t = copy_to(t, device, ws);
  for (auto& [name, c] : copy->children_) c = c->to(device, ws);
  return copy;
}

// --- registration and tape leaves ------------------------------------------------------------------

namespace {
void check_new_name(const Module& m, std::string_view what, const std::string& name, bool taken) {
  BL_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module::register_", what, ": ", describe(m),
           ": name must be non-empty and contain no '.', got '", name, "'");
  BL_CHECK(!taken, "Module::register_", what, ": ", describe(m), " already has a parameter, buffer or child named '",
           name, "'");
}
}  // namespace

Tensor& Module::register_parameter(std::string name, Tensor value) {
  const bool taken = find_entry(params_, name) || find_entry(buffers_, name) || find_entry(children_, name);
  check_new_name(*this, "parameter", name, taken);
  BL_CHECK(value.defined(), "Module::register_parameter: ", describe(*this), ": parameter '", name, "' has no tensor");
  params_.emplace_back(std::move(name), std::move(value));
  return params_.back().second;
}

Tensor& Module::register_buffer(std::string name, Tensor value) {
  const bool taken = find_entry(params_, name) || find_entry(buffers_, name) || find_entry(children_, name);
  check_new_name(*this, "buffer", name, taken);
  BL_CHECK(value.defined(), "Module::register_buffer: ", describe(*this), ": buffer '", name, "' has no tensor");
  buffers_.emplace_back(std::move(name), std::move(value));
  return buffers_.back().second;
}

Module& Module::register_module(std::string name, ModulePtr child) {
  const bool taken = find_entry(params_, name) || find_entry(buffers_, name) || find_entry(children_, name);
  check_new_name(*this, "module", name, taken);
  BL_CHECK(child, "Module::register_module: ", describe(*this), ": child '", name, "' is null");
  BL_CHECK(child.get() != this, "Module::register_module: ", describe(*this), " cannot be its own child");
  child->set_path(join_path(path_, name));
  children_.emplace_back(std::move(name), std::move(child));
  return *children_.back().second;
}

Var Module::param(Tape& tape, std::string_view name, bool optional) const {
  const auto* e = find_entry(params_, name);
  if (!e && optional) return Var();
  BL_CHECK(e, describe(*this), ": forward needs parameter '", name, "' (parameters: ", list_names(params_), ")");
  return tape.param(e->second, join_path(path_, name));
}

Var Module::buf(Tape& tape, std::string_view name) const {
  const auto* e = find_entry(buffers_, name);
  BL_CHECK(e, describe(*this), ": forward needs buffer '", name, "' (buffers: ", list_names(buffers_), ")");
  return tape.buffer(e->second, join_path(path_, name));
}

}  // namespace backlight
