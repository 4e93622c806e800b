// engine/op_kinds.def: the op table is the single source of per-op facts. The enum is generated
// from its rows, so a kind without a row cannot exist, and a row without all six columns does not
// compile (checked here with a macro of the same arity); the derived predicates agree with it.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "engine/op_kind.h"
#include "engine/rules/affine.h"

using namespace backlight;

namespace {

// Counting rows with a six-argument X: a five-column row would fail to expand here.
constexpr int kRows = 0
#define X(e, name, family, nonlinearity, batch, region) +1
#include "engine/op_kinds.def"
#undef X
    ;
static_assert(kRows == static_cast<int>(OpKind::PowTensor) + 1, "one row per OpKind (PowTensor is the last row)");

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("op table: one row per kind, names round-trip, facts_of(kind) describes kind") {
  CHECK(all_op_kinds().size() == static_cast<size_t>(kRows));
  std::set<std::string> names;
  for (OpKind k : all_op_kinds()) {
    CHECK(facts_of(k).kind == k);
    CHECK(op_kind_from_string(to_string(k)) == k);
    names.insert(std::string(to_string(k)));
  }
  CHECK(names.size() == all_op_kinds().size());
  CHECK_FALSE(op_kind_from_string("no_such_op").has_value());
}

TEST_CASE("op table: LRP's affine kinds are exactly the linear family") {
  int linear = 0;
  for (OpKind k : all_op_kinds()) {
    CHECK(is_affine_kind(k) == (family_of(k) == OpFamily::Linear));
    linear += family_of(k) == OpFamily::Linear;
  }
  CHECK(linear == 10);  // linear conv2d batchnorm avgpool2d adaptive_avgpool2d scale sum mean conv_transpose2d resize
  CHECK(is_affine_kind(OpKind::Conv2d));
  CHECK_FALSE(is_affine_kind(OpKind::Relu));
  CHECK_FALSE(is_affine_kind(OpKind::MaxPool2d));
}

TEST_CASE("op table: nonlinearity, batch and region of known kinds") {
  CHECK(facts_of(OpKind::Relu).nonlinearity == Nonlinearity::ReluLike);
  CHECK(facts_of(OpKind::LeakyRelu).nonlinearity == Nonlinearity::ReluLike);
  CHECK(facts_of(OpKind::Gelu).nonlinearity == Nonlinearity::Smooth);
  CHECK(facts_of(OpKind::Softmax).nonlinearity == Nonlinearity::Softmax);
  CHECK(facts_of(OpKind::MaxPool2d).nonlinearity == Nonlinearity::MaxPool);
  CHECK(facts_of(OpKind::Dropout).nonlinearity == Nonlinearity::None);
  CHECK(facts_of(OpKind::MatMul).batch == BatchFlow::Mixes);
  CHECK(facts_of(OpKind::Concat).batch == BatchFlow::Batched);
  CHECK(facts_of(OpKind::Add).region == RegionFlow::Binary);
  CHECK(facts_of(OpKind::Conv2d).region == RegionFlow::ConvWindow);
  CHECK(facts_of(OpKind::BatchNorm).region == RegionFlow::Pointwise);
}

}  // TEST_SUITE
