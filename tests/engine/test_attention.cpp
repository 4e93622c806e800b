// MultiheadAttention: float64 reference of the same math, parity with torch.nn.MultiheadAttention,
// the tape nodes rules attach to, gradcheck w.r.t. the input.
#include <cmath>

#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

struct MhaRef {
  Tensor out;      // [N, L, E]
  Tensor weights;  // [N, L, L], mean over heads
};

// Self-attention written out in double loops: projections, per-head softmax(q k^T / sqrt(D)) v,
// output projection (PyTorch's nn.MultiheadAttention, batch_first, no masks).
MhaRef mha_ref(const Tensor& x, const Tensor& wi, const Tensor& bi, const Tensor& wo, const Tensor& bo, int64_t heads) {
  const int64_t n = x.size(0), l = x.size(1), e = x.size(2), d = e / heads;
  const float* X = x.data();
  auto in_w = [&](int64_t r, int64_t c) { return double(wi.data()[r * e + c]); };
  auto in_b = [&](int64_t r) { return bi.defined() ? double(bi.data()[r]) : 0.0; };
  MhaRef ref{Tensor::zeros({n, l, e}), Tensor::zeros({n, l, l})};
  for (int64_t b = 0; b < n; ++b) {
    std::vector<double> qkv(3 * l * e);  // [3][L][E]
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t i = 0; i < l; ++i)
        for (int64_t o = 0; o < e; ++o) {
          double s = in_b(part * e + o);
          for (int64_t c = 0; c < e; ++c) s += X[(b * l + i) * e + c] * in_w(part * e + o, c);
          qkv[(part * l + i) * e + o] = s;
        }
    auto q = [&](int64_t i, int64_t c) { return qkv[i * e + c]; };
    auto k = [&](int64_t i, int64_t c) { return qkv[(l + i) * e + c]; };
    auto v = [&](int64_t i, int64_t c) { return qkv[(2 * l + i) * e + c]; };
    std::vector<double> ctx(l * e, 0.0);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < l; ++i) {
        std::vector<double> p(l);
        double mx = -1e300, z = 0;
        for (int64_t j = 0; j < l; ++j) {
          double s = 0;
          for (int64_t c = h * d; c < (h + 1) * d; ++c) s += q(i, c) * k(j, c);
          p[j] = s / std::sqrt(double(d));
          mx = std::max(mx, p[j]);
        }
        for (int64_t j = 0; j < l; ++j) z += (p[j] = std::exp(p[j] - mx));
        for (int64_t j = 0; j < l; ++j) {
          p[j] /= z;
          ref.weights.data()[(b * l + i) * l + j] += static_cast<float>(p[j] / heads);
          for (int64_t c = h * d; c < (h + 1) * d; ++c) ctx[i * e + c] += p[j] * v(j, c);
        }
      }
    for (int64_t i = 0; i < l; ++i)
      for (int64_t o = 0; o < e; ++o) {
        double s = bo.defined() ? bo.data()[o] : 0.0;
        for (int64_t c = 0; c < e; ++c) s += ctx[i * e + c] * wo.data()[o * e + c];
        ref.out.data()[(b * l + i) * e + o] = static_cast<float>(s);
      }
  }
  return ref;
}

// An attention block with random non-zero biases (the defaults are zero, which would hide them).
MultiheadAttention make_mha(int64_t e, int64_t h, std::mt19937_64& rng, bool bias = true) {
  MultiheadAttention mha(e, h, rng, {.bias = bias});
  if (bias) {
    mha.set_tensor("in_proj_bias", uniform({3 * e}, rng, -0.5f, 0.5f));
    mha.set_tensor("out_proj.bias", uniform({e}, rng, -0.5f, 0.5f));
  }
  return mha;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("attention: forward equals a float64 reference of the same math") {
  struct Case {
    int64_t n, l, e, h;
    bool bias;
  };
  const Case cases[] = {{2, 5, 8, 2, true}, {1, 3, 6, 1, true}, {3, 4, 8, 4, true}, {2, 1, 4, 2, true},
                        {2, 4, 6, 3, false}};
  std::mt19937_64 rng(kSeed);
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.l);
    CAPTURE(c.e);
    CAPTURE(c.h);
    CAPTURE(c.bias);
    MultiheadAttention mha = make_mha(c.e, c.h, rng, c.bias);
    const Tensor x = randn({c.n, c.l, c.e}, rng);
    const Module& out_proj = mha.child("out_proj");
    const MhaRef ref = mha_ref(x, mha.parameter("in_proj_weight"),
                               c.bias ? mha.parameter("in_proj_bias") : Tensor(), out_proj.parameter("weight"),
                               c.bias ? out_proj.parameter("bias") : Tensor(), c.h);
    Tape tape;
    const AttentionOutput y = mha.forward_with_weights(tape.input(x));
    BL_CHECK_CLOSE(y.output.value(), ref.out, 1e-5, 1e-4);
    BL_CHECK_CLOSE(y.weights.value(), ref.weights, 1e-6, 1e-4);
    BL_CHECK_CLOSE(mha.forward(tape.input(x)).value(), ref.out, 1e-5, 1e-4);
  }
}

TEST_CASE("attention: parity with torch.nn.MultiheadAttention(4, 2, batch_first=True)") {
  // Printed by tools/reference/print_mha_literals.py (torch 1.13, seed 0).
  const Tensor in_proj_weight = Tensor::from({12, 4},
      {0.222424164f, 0.508506715f, -0.126026362f, 0.458245516f, -0.0987042487f, 0.0647976398f, 0.554488719f,
       -0.56807977f, -0.385511696f, -0.155031428f, -0.238702759f, 0.529090285f, -0.396927357f, -0.281895161f,
       -0.427828193f, -0.573524177f, -0.357466578f, 0.526394188f, 0.273251832f, 0.296800107f, 0.0322056226f,
       -0.313953251f, 0.103604041f, -0.571768939f, -0.44247967f, -0.315696359f, 0.38636902f, 0.359046966f,
       -0.271584153f, -0.0220958609f, 0.391649365f, 0.608779728f, 0.243039712f, 0.0827271417f, 0.41058737f,
       -0.360566348f, 0.114111952f, -0.474775732f, -0.424426854f, -0.316341549f, 0.277082026f, 0.246271953f,
       -0.362740368f, 0.185002059f, 0.336175352f, -0.07729204f, 0.0233813263f, 0.141889587f});
  const Tensor in_proj_bias = Tensor::from({12},
      {0.310188293f, 0.480097055f, -0.385311782f, -0.18323487f, 0.196504951f, 0.414274693f, 0.435103655f,
       0.441178381f, 0.0995072722f, -0.434791327f, 0.0459962487f, -0.312802672f});
  const Tensor out_proj_weight = Tensor::from({4, 4},
      {-0.00374341011f, 0.268221796f, -0.411522567f, -0.367969513f, -0.192577183f, 0.134078681f, -0.00990658998f,
       0.396444738f, -0.0443720222f, 0.132306278f, -0.151106536f, -0.0982826948f, -0.477674246f, -0.331141055f,
       -0.20611155f, 0.0185217857f});
  const Tensor out_proj_bias = Tensor::from({4},
      {-0.465977073f, 0.444246233f, 0.380179882f, -0.498763978f});
  const Tensor x = Tensor::from({2, 3, 4},
      {0.84189409f, -0.400034159f, 1.03946197f, 0.358153105f, -0.00330387289f, -0.534440696f, 1.16868782f,
       0.394502759f, -0.802492917f, -1.29518616f, -0.750181496f, -1.3119657f, -0.218833685f, -2.43506527f,
       -0.0729147568f, -0.0339864083f, 0.796887159f, -0.184841633f, -0.370147258f, -1.21028149f, -0.622698486f,
       -0.463722169f, 1.92178237f, -0.402545542f});
  const Tensor expected_out = Tensor::from({2, 3, 4},
      {-0.1745933f, 0.200831085f, 0.454760134f, -0.515801132f, -0.173901975f, 0.244399413f, 0.462158442f,
       -0.536931098f, -0.214086145f, 0.400474697f, 0.470282674f, -0.595218599f, 0.0123050809f, 0.309318393f,
       0.543159842f, -0.593800902f, -0.245865673f, 0.282069713f, 0.438425064f, -0.663770914f, -0.23562853f,
       0.322383732f, 0.451136351f, -0.687120795f});
  const Tensor expected_weights = Tensor::from({2, 3, 3},
      {0.254621327f, 0.223848045f, 0.521530628f, 0.261806756f, 0.231679574f, 0.506513655f, 0.297224283f, 0.325854331f,
       0.376921386f, 0.41564849f, 0.276862651f, 0.307488829f, 0.281996697f, 0.477487355f, 0.240515947f, 0.31733349f,
       0.513512552f, 0.169153944f});
  std::mt19937_64 rng(kSeed);
  MultiheadAttention mha(4, 2, rng);
  REQUIRE(mha.set_tensor("in_proj_weight", in_proj_weight));
  REQUIRE(mha.set_tensor("in_proj_bias", in_proj_bias));
  REQUIRE(mha.set_tensor("out_proj.weight", out_proj_weight));
  REQUIRE(mha.set_tensor("out_proj.bias", out_proj_bias));
  Tape tape;
  const AttentionOutput y = mha.forward_with_weights(tape.input(x));
  BL_CHECK_CLOSE(y.output.value(), expected_out, 2e-6, 1e-5);
  BL_CHECK_CLOSE(y.weights.value(), expected_weights, 2e-6, 1e-5);
}

TEST_CASE("attention: every step is its own tape node, named under the module path") {
  std::mt19937_64 rng(kSeed);
  Sequential enc;
  enc.add("attn", std::make_shared<MultiheadAttention>(8, 2, rng));
  enc.set_path("enc");
  const auto& mha = dynamic_cast<const MultiheadAttention&>(enc.child("attn"));
  Tape tape;
  const AttentionOutput y = mha.forward_with_weights(tape.input(randn({2, 3, 8}, rng)));
  const std::vector<std::pair<std::string, OpKind>> expected{
      {"enc.attn.q_proj", OpKind::Linear},       {"enc.attn.q_split", OpKind::Reshape},
      {"enc.attn.q_heads", OpKind::Permute},     {"enc.attn.k_proj", OpKind::Linear},
      {"enc.attn.k_split", OpKind::Reshape},     {"enc.attn.k_heads", OpKind::Permute},
      {"enc.attn.v_proj", OpKind::Linear},       {"enc.attn.v_split", OpKind::Reshape},
      {"enc.attn.v_heads", OpKind::Permute},     {"enc.attn.scores", OpKind::MatMul},
      {"enc.attn.scale", OpKind::Scale},         {"enc.attn.softmax", OpKind::Softmax},
      {"enc.attn.context", OpKind::MatMul},      {"enc.attn.merge_heads", OpKind::Permute},
      {"enc.attn.merge", OpKind::Reshape},       {"enc.attn.out_proj", OpKind::Linear},
      {"enc.attn.attn_weights", OpKind::Mean}};
  REQUIRE(tape.num_nodes() == static_cast<int>(expected.size()));
  for (int i = 0; i < tape.num_nodes(); ++i) {
    CAPTURE(i);
    CHECK(tape.node(i).name == expected[i].first);
    CHECK(tape.node(i).kind == expected[i].second);
  }
  CHECK(tape.value(tape.node(11).output).tensor.shape() == Shape{2, 2, 3, 3});
  CHECK(tape.node(10).attrs.index() != 0);
  CHECK(std::get<ScaleAttrs>(tape.node(10).attrs).factor == doctest::Approx(0.5));  // 1/sqrt(head_dim 4)
  CHECK(y.weights.shape() == Shape{2, 3, 3});
  // q/k/v weights are parameter leaves named in_proj_weight, each a row block viewing the tensor.
  const Tensor& w = mha.parameter("in_proj_weight");
  for (int i : {0, 3, 6}) {
    CAPTURE(i);
    const Node& proj = tape.node(i);
    CHECK(proj.has_params);
    const Value& leaf = tape.value(proj.inputs.at(1));
    CHECK(leaf.role == ValueRole::Parameter);
    CHECK(leaf.name == "enc.attn.in_proj_weight");
    CHECK(leaf.tensor.shape() == Shape{8, 8});
    CHECK(leaf.tensor.shares_storage(w));
    CHECK(leaf.tensor.data() == w.data() + (i / 3) * 64);
    CHECK(tape.value(proj.inputs.at(2)).name == "enc.attn.in_proj_bias");
  }
  // forward() alone leaves out the head average.
  Tape t2;
  mha.forward(t2.input(randn({2, 3, 8}, rng)));
  CHECK(t2.num_nodes() == 16);
  CHECK(t2.node(15).name == "enc.attn.out_proj");
}

TEST_CASE("attention: per-head weights, batch_first=false, probabilities sum to one") {
  std::mt19937_64 rng(kSeed);
  MultiheadAttention mha = make_mha(6, 3, rng);
  const Tensor x = randn({2, 4, 6}, rng);
  Tape tape;
  const AttentionOutput per_head = mha.forward_with_weights(tape.input(x), /*average_attn_weights=*/false);
  CHECK(per_head.weights.shape() == Shape{2, 3, 4, 4});
  CHECK(tape.node(tape.value(per_head.weights.id()).producer).kind == OpKind::Softmax);
  for (int64_t r = 0; r < 2 * 3 * 4; ++r) {
    double s = 0;
    for (int64_t j = 0; j < 4; ++j) s += per_head.weights.value().data()[r * 4 + j];
    CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
  }

  // Sequence-first layout: same weights, x as [L, N, E] -> output [L, N, E].
  MultiheadAttention seq_first(6, 3, rng, {.batch_first = false});
  for (const auto& [name, t] : mha.state_dict()) REQUIRE(seq_first.set_tensor(name, t));
  Tensor xt = Tensor::empty({4, 2, 6});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t c = 0; c < 6; ++c) xt.data()[(i * 2 + b) * 6 + c] = x.at({b, i, c});
  const AttentionOutput a = mha.forward_with_weights(tape.input(x));
  const AttentionOutput s = seq_first.forward_with_weights(tape.input(xt));
  CHECK(s.output.shape() == Shape{4, 2, 6});
  BL_CHECK_CLOSE(s.weights.value(), a.weights.value(), 1e-6, 1e-5);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t c = 0; c < 6; ++c)
        CHECK(s.output.value().at({i, b, c}) == doctest::Approx(a.output.value().at({b, i, c})).epsilon(1e-5));
}

TEST_CASE("attention: gradcheck of the block w.r.t. its input") {
  std::mt19937_64 rng(kSeed);
  SUBCASE("two heads, output") {
    const MultiheadAttention mha = make_mha(4, 2, rng);
    gradcheck([&](const std::vector<Var>& v) { return mha.forward(v[0]); }, {randn({2, 3, 4}, rng)});
  }
  SUBCASE("three heads, averaged weights") {
    const MultiheadAttention mha = make_mha(6, 3, rng);
    gradcheck([&](const std::vector<Var>& v) { return mha.forward_with_weights(v[0]).weights; },
              {randn({1, 4, 6}, rng)});
  }
  SUBCASE("sequence first, no bias") {
    const MultiheadAttention mha(4, 1, rng, {.bias = false, .batch_first = false});
    gradcheck([&](const std::vector<Var>& v) { return mha.forward(v[0]); }, {randn({3, 2, 4}, rng)});
  }
}

TEST_CASE("attention: configuration and input errors") {
  std::mt19937_64 rng(kSeed);
  CHECK_THROWS_WITH_AS(MultiheadAttention(6, 4, rng),
                       doctest::Contains("expected embed_dim divisible by num_heads, got 6 and 4"), Error);
  MultiheadAttention mha(4, 2, rng);
  mha.set_path("blocks.0.attn");
  Tape tape;
  CHECK_THROWS_WITH_AS(mha.forward(tape.input(Tensor::zeros({2, 3, 5}))),
                       doctest::Contains("MultiheadAttention 'blocks.0.attn': expected input [N,L,E] with E=4, got "
                                         "[2,3,5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(mha.forward(tape.input(Tensor::zeros({3, 4}))), doctest::Contains("got [3,4]"), ShapeError);
  MultiheadAttention no_bias(4, 2, rng, {.bias = false});
  std::vector<std::string> names;
  for (const auto& [name, t] : no_bias.state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "out_proj.weight"});  // as torch with bias=False
}

}  // TEST_SUITE
