// The Einsum equation planner of the ONNX importer (models/onnx/einsum.h): letters sorted into
// batch / m / k / n for two-operand matrix products, clear refusals for everything else.
#include <doctest/doctest.h>

#include <string>

#include "engine/error.h"
#include "models/onnx/einsum.h"

using namespace backlight;


namespace {

onnx::Node einsum_node(const std::string& equation) {
  onnx::Node n;
  n.name = "/attn/Einsum";
  n.op_type = "Einsum";
  onnx::Attribute a;
  a.type = onnx::Attribute::Type::String;
  a.s = equation;
  n.attrs["equation"] = a;
  return n;
}

std::string refusal(const std::string& equation) {
  try {
    (void)onnx::plan_einsum(einsum_node(equation));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx einsum: matrix-product equations are planned (MaxViT's spelling, implicit output, no batch)") {
    const onnx::EinsumPlan qk = onnx::plan_einsum(einsum_node("B G H I D, B G H J D -> B G H I J"));
    CHECK(qk.a == "BGHID");
    CHECK(qk.batch == "BGH");
    CHECK(qk.m == "I");
    CHECK(qk.k == "D");
    CHECK(qk.n == "J");
    const onnx::EinsumPlan av = onnx::plan_einsum(einsum_node("BGHIJ,BGHJD->BGHID"));
    CHECK(av.k == "J");
    CHECK(av.n == "D");
    const onnx::EinsumPlan implicit = onnx::plan_einsum(einsum_node("ij,jk"));  // output: the letters used once, sorted
    CHECK(implicit.out == "ik");
    CHECK(implicit.batch.empty());
    const onnx::EinsumPlan outer = onnx::plan_einsum(einsum_node("i,j->ji"));
    CHECK(outer.k.empty());
    CHECK(outer.out == "ji");
  }

  TEST_CASE("onnx einsum: other equations are refused naming the node, the equation and why") {
    const std::string three = refusal("ij,jk,kl->il");
    CHECK(three.find("/attn/Einsum") != std::string::npos);
    CHECK(three.find("'ij,jk,kl->il'") != std::string::npos);
    CHECK(three.find("3 operand(s)") != std::string::npos);
    CHECK(refusal("ii->i").find("1 operand(s)") != std::string::npos);
    CHECK(refusal("bii,bij->bij").find("repeats") != std::string::npos);
    CHECK(refusal("...ij,...jk->...ik").find("ellipsis") != std::string::npos);
    CHECK(refusal("ij,jk->k").find("'i' of the first operand is summed alone") != std::string::npos);
    CHECK(refusal("ij,jk->iz").find("'z' is in no operand") != std::string::npos);
    CHECK(refusal("i1,1k->ik").find("character '1'") != std::string::npos);
  }
}
