// Einsum of two operands whose equation is a (batched) matrix product, written as permute,
// reshape and one batched `matmul` node: torchvision's MaxViT attention
// ("B G H I D, B G H J D -> B G H I J" is q @ k^T, "B G H I J, B G H J D -> B G H I D" is attn @ v).
// The rules then see an ordinary matmul of two activations (cp_lrp / AttnLRP attach to it).
#include "models/onnx/einsum.h"

#include <algorithm>
#include <cctype>

#include "engine/error.h"
#include "engine/ops/ops.h"
#include "models/onnx/fold.h"

namespace backlight::onnx {

namespace {

const char* kSupported =
    "supported: two operands, explicit or implicit output, each letter at most once per term, every "
    "letter of an operand either kept in the output or contracted with the other operand (a batched "
    "matrix product, e.g. 'bhid,bhjd->bhij'); no '...'";

[[noreturn]] void refuse(const Node& n, const std::string& eq, const std::string& why) {
  BL_THROW("onnx: ", n.describe(), ": Einsum equation '", eq, "' is not supported: ", why, " (", kSupported, ")");
}

}  // namespace

EinsumPlan plan_einsum(const Node& n) {
  const std::string eq = attr_string(n, "equation", "");
  std::string e;
  for (char c : eq)
    if (!std::isspace(static_cast<unsigned char>(c))) e += c;
  BL_CHECK(!e.empty(), "onnx: ", n.describe(), ": Einsum without an equation attribute");
  if (e.find("...") != std::string::npos) refuse(n, eq, "an ellipsis '...'");
  EinsumPlan p;
  const size_t arrow = e.find("->");
  const std::string lhs = arrow == std::string::npos ? e : e.substr(0, arrow);
  const size_t comma = lhs.find(',');
  if (comma == std::string::npos || lhs.find(',', comma + 1) != std::string::npos)
    refuse(n, eq, "it has " + std::to_string(std::count(lhs.begin(), lhs.end(), ',') + 1) + " operand(s)");
  p.a = lhs.substr(0, comma);
  p.b = lhs.substr(comma + 1);
  if (arrow != std::string::npos) {
    p.out = e.substr(arrow + 2);
  } else {  // implicit output: the letters that appear once, in alphabetical order
    for (char c : p.a + p.b)
      if (std::count(p.a.begin(), p.a.end(), c) + std::count(p.b.begin(), p.b.end(), c) == 1) p.out += c;
    std::sort(p.out.begin(), p.out.end());
  }
  for (const std::string* t : {&p.a, &p.b, &p.out}) {
    for (size_t i = 0; i < t->size(); ++i) {
      const char c = (*t)[i];
      if (!std::isalpha(static_cast<unsigned char>(c))) refuse(n, eq, std::string("character '") + c + "'");
      if (t->find(c, i + 1) != std::string::npos)
        refuse(n, eq, std::string("letter '") + c + "' repeats within one term (a diagonal)");
    }
  }
  auto has = [](const std::string& t, char c) { return t.find(c) != std::string::npos; };
  for (char c : p.out)
    if (!has(p.a, c) && !has(p.b, c)) refuse(n, eq, std::string("output letter '") + c + "' is in no operand");
  for (char c : p.a) {
    if (has(p.b, c) && has(p.out, c)) p.batch += c;
    else if (has(p.b, c)) p.k += c;
    else if (has(p.out, c)) p.m += c;
    else refuse(n, eq, std::string("letter '") + c + "' of the first operand is summed alone");
  }
  for (char c : p.b) {
    if (!has(p.a, c) && has(p.out, c)) p.n += c;
    else if (!has(p.a, c)) refuse(n, eq, std::string("letter '") + c + "' of the second operand is summed alone");
  }
  return p;
}

Var run_einsum(const Step& s, const Var& a, const Var& b) {
  const EinsumPlan p = plan_einsum(s.node);
  const std::string eq = attr_string(s.node, "equation", "");
  BL_CHECK_SHAPE(a.shape().rank() == static_cast<int>(p.a.size()) && b.shape().rank() == static_cast<int>(p.b.size()),
                 "onnx: ", s.node.describe(), ": Einsum '", eq, "' on operands ", a.shape().str(), " and ",
                 b.shape().str(), ": ranks do not match the terms '", p.a, "' and '", p.b, "'");
  auto size_of = [](const std::string& term, const Var& v, char c) {
    return v.shape()[static_cast<int>(term.find(c))];
  };
  for (char c : p.batch + p.k)
    BL_CHECK_SHAPE(size_of(p.a, a, c) == size_of(p.b, b, c), "onnx: ", s.node.describe(), ": Einsum '", eq,
                   "': letter '", c, "' is ", size_of(p.a, a, c), " in ", a.shape().str(), " and ",
                   size_of(p.b, b, c), " in ", b.shape().str(), " (broadcasting is not supported; equal sizes expected)");
  // x permuted to the letters of `order` (no node when already so), reshaped to `dims`.
  auto arrange = [&](const Var& x, const std::string& term, const std::string& order, std::vector<int64_t> dims) {
    std::vector<int> perm;
    for (char c : order) perm.push_back(static_cast<int>(term.find(c)));
    Var y = x;
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int>(i);
    if (!identity) y = permute(y, perm, s.path);
    if (y.shape().to_vector() != dims) y = reshape(y, dims, s.path);
    return y;
  };
  std::vector<int64_t> batch_dims;
  for (char c : p.batch) batch_dims.push_back(size_of(p.a, a, c));
  int64_t m = 1, k = 1, n = 1;
  for (char c : p.m) m *= size_of(p.a, a, c);
  for (char c : p.k) k *= size_of(p.a, a, c);
  for (char c : p.n) n *= size_of(p.b, b, c);
  auto with = [&](std::initializer_list<int64_t> tail) {
    std::vector<int64_t> d = batch_dims;
    d.insert(d.end(), tail);
    return d;
  };
  const Var am = arrange(a, p.a, p.batch + p.m + p.k, with({m, k}));
  const Var bm = arrange(b, p.b, p.batch + p.k + p.n, with({k, n}));
  Var y = matmul(am, bm, s.path);  // [batch..., m, n]
  const std::string have = p.batch + p.m + p.n;
  std::vector<int64_t> full = batch_dims;
  for (char c : p.m) full.push_back(size_of(p.a, a, c));
  for (char c : p.n) full.push_back(size_of(p.b, b, c));
  if (y.shape().to_vector() != full) y = reshape(y, full, s.path);
  std::vector<int> perm;
  bool identity = true;
  for (char c : p.out) {
    perm.push_back(static_cast<int>(have.find(c)));
    identity &= perm.back() == static_cast<int>(perm.size() - 1);
  }
  return identity ? y : permute(y, perm, s.path);
}

}  // namespace backlight::onnx
