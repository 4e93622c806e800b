#include "engine/op_kind.h"

#include <array>

namespace backlight {

namespace {
struct KindInfo {
  OpKind kind;
  std::string_view name;
  OpFamily family;
};
constexpr OpFamily linear = OpFamily::Linear;
constexpr OpFamily elementwise = OpFamily::Elementwise;
constexpr OpFamily other = OpFamily::Other;
constexpr std::array kKinds = {
#define X(e, name, fam) KindInfo{OpKind::e, name, fam},
#include "engine/op_kinds.def"
#undef X
};
constexpr std::array kAllKinds = {
#define X(e, name, fam) OpKind::e,
#include "engine/op_kinds.def"
#undef X
};
}  // namespace

std::string_view to_string(OpKind kind) { return kKinds[static_cast<size_t>(kind)].name; }
OpFamily family_of(OpKind kind) { return kKinds[static_cast<size_t>(kind)].family; }

std::optional<OpKind> op_kind_from_string(std::string_view name) {
  for (const auto& k : kKinds)
    if (k.name == name) return k.kind;
  return std::nullopt;
}

std::span<const OpKind> all_op_kinds() { return kAllKinds; }

}  // namespace backlight
