#include "engine/op_kind.h"

#include <array>

namespace backlight {

namespace {

// The table's bare words, one namespace per column.
namespace family {
constexpr OpFamily linear = OpFamily::Linear, elementwise = OpFamily::Elementwise, other = OpFamily::Other;
}
namespace nonlinearity {
constexpr Nonlinearity none = Nonlinearity::None, relu_like = Nonlinearity::ReluLike, smooth = Nonlinearity::Smooth,
                       softmax = Nonlinearity::Softmax, max_pool = Nonlinearity::MaxPool;
}
namespace batch {
constexpr BatchFlow rows = BatchFlow::Rows, params = BatchFlow::Params, broadcast = BatchFlow::Broadcast,
                    batched = BatchFlow::Batched, mixes = BatchFlow::Mixes;
}
namespace region {
constexpr RegionFlow pointwise = RegionFlow::Pointwise, conv_window = RegionFlow::ConvWindow,
                     max_window = RegionFlow::MaxWindow, avg_window = RegionFlow::AvgWindow, binary = RegionFlow::Binary,
                     global = RegionFlow::Global;
}

constexpr std::array kFacts = {
#define X(e, name, fam, nl, b, r) \
  OpFacts{OpKind::e, name, family::fam, nonlinearity::nl, batch::b, region::r},
#include "engine/op_kinds.def"
#undef X
};
constexpr std::array kAllKinds = {
#define X(e, ...) OpKind::e,
#include "engine/op_kinds.def"
#undef X
};

// Row i describes kind i, so lookups index the table.
constexpr bool rows_in_order() {
  for (size_t i = 0; i < kFacts.size(); ++i)
    if (static_cast<size_t>(kFacts[i].kind) != i) return false;
  return true;
}
static_assert(rows_in_order(), "op_kinds.def: row i must describe OpKind i");
// Facts that must agree with each other.
constexpr bool facts_consistent() {
  for (const OpFacts& f : kFacts) {
    const bool activation = f.nonlinearity == Nonlinearity::ReluLike || f.nonlinearity == Nonlinearity::Smooth;
    if (activation && (f.family != OpFamily::Elementwise || f.region != RegionFlow::Pointwise)) return false;
    if (f.family == OpFamily::Linear && f.nonlinearity != Nonlinearity::None) return false;
    if (f.batch == BatchFlow::Mixes && f.region != RegionFlow::Global) return false;
  }
  return true;
}
static_assert(facts_consistent(),
              "op_kinds.def: relu_like/smooth ops are elementwise and pointwise, linear ops have no nonlinearity, "
              "ops that mix rows have a global region");

}  // namespace

const OpFacts& facts_of(OpKind kind) { return kFacts[static_cast<size_t>(kind)]; }
std::string_view to_string(OpKind kind) { return facts_of(kind).name; }
OpFamily family_of(OpKind kind) { return facts_of(kind).family; }

std::optional<OpKind> op_kind_from_string(std::string_view name) {
  for (const auto& k : kFacts)
    if (k.name == name) return k.kind;
  return std::nullopt;
}

std::span<const OpKind> all_op_kinds() { return kAllKinds; }

}  // namespace backlight
