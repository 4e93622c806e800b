// Optimizers (SGD, Adam) against torch 1.13 on a hand example, parameter_gradients against finite
// differences, cross_entropy, and a small deterministic training run.
#include <cmath>

#include "engine/losses.h"
#include "engine/modules/all.h"
#include "engine/optim.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Linear(2, 2) with weight [[0.5, -1], [2, 0.25]], bias [0.1, -0.3], and three fixed gradients.
struct HandExample {
  std::mt19937_64 rng{kSeed};
  Linear fc{2, 2, rng};
  HandExample() {
    fc.set_tensor("weight", Tensor::from({2, 2}, {0.5f, -1.0f, 2.0f, 0.25f}));
    fc.set_tensor("bias", Tensor::from({2}, {0.1f, -0.3f}));
  }
  static NamedTensors grads(int step) {
    const Tensor gw[3] = {Tensor::from({2, 2}, {0.2f, -0.4f, 1.0f, 0.0f}),
                          Tensor::from({2, 2}, {-0.1f, 0.3f, 0.5f, 2.0f}),
                          Tensor::from({2, 2}, {0.7f, 0.7f, -1.5f, 0.05f})};
    const Tensor gb[3] = {Tensor::from({2}, {0.5f, -0.5f}), Tensor::from({2}, {0.25f, 1.0f}),
                          Tensor::from({2}, {-2.0f, 0.125f})};
    return {{"weight", gw[step]}, {"bias", gb[step]}};
  }
};

struct Expected {
  std::vector<float> weight, bias;
};

// Three optimizer steps; after each, the parameters equal torch's (printed by torch 1.13 with the
// same tensors assigned to .grad).
template <class Optimizer>
void check_steps(HandExample& ex, Optimizer& opt, const std::vector<Expected>& expected) {
  for (int s = 0; s < 3; ++s) {
    CAPTURE(s + 1);
    opt.step(HandExample::grads(s));
    BL_CHECK_CLOSE(ex.fc.parameter("weight"), Tensor::from({2, 2}, expected[s].weight), 1e-6, 1e-6);
    BL_CHECK_CLOSE(ex.fc.parameter("bias"), Tensor::from({2}, expected[s].bias), 1e-6, 1e-6);
  }
}

// Central finite differences of a scalar function of the model, for every element of `param`.
Tensor finite_difference(Tensor param, const std::function<double()>& loss, float h = 1e-2f) {
  Tensor fd = Tensor::empty(param.shape());
  for (int64_t i = 0; i < param.numel(); ++i) {
    const float orig = param.data()[i];
    param.data()[i] = orig + h;
    const double plus = loss();
    param.data()[i] = orig - h;
    const double minus = loss();
    param.data()[i] = orig;
    fd.data()[i] = static_cast<float>((plus - minus) / (2.0 * h));
  }
  return fd;
}

// A block that applies one Linear twice: its gradient is the sum over both uses.
class Reuse : public ModuleImpl<Reuse> {
 public:
  explicit Reuse(std::mt19937_64& rng) {
    register_module("fc", std::make_shared<Linear>(3, 3, rng));
    register_module("out", std::make_shared<Linear>(3, 2, rng));
  }
  Var forward(const Var& x) const override {
    const Module& fc = child("fc");
    return child("out").forward(tanh(fc.forward(tanh(fc.forward(x), "t1")), "t2"));
  }
  std::string type_name() const override { return "Reuse"; }
};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("optim/sgd: steps equal torch.optim.SGD") {
  SUBCASE("plain") {
    HandExample ex;
    SGD opt(ex.fc, {.lr = 0.1f});
    check_steps(ex, opt,
                {{{0.479999989f, -0.959999979f, 1.89999998f, 0.25f}, {0.0500000007f, -0.25f}},
                 {{0.48999998f, -0.99000001f, 1.85000002f, 0.049999997f}, {0.0250000004f, -0.349999994f}},
                 {{0.419999987f, -1.06000006f, 2.0f, 0.0449999981f}, {0.225000009f, -0.362499982f}}});
  }
  SUBCASE("momentum 0.9, dampening 0.1, weight_decay 0.01") {
    HandExample ex;
    SGD opt(ex.fc, {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 0.01f});
    check_steps(ex, opt,
                {{{0.479499996f, -0.958999991f, 1.898f, 0.249750003f}, {0.0499000028f, -0.24970001f}},
                 {{0.46961844f, -0.948236883f, 1.7594918f, 0.0693002418f}, {-0.0177349094f, -0.294205278f}},
                 {{0.397302389f, -1.00069666f, 1.76825082f, -0.0976669043f}, {0.101409636f, -0.345245242f}}});
  }
  SUBCASE("nesterov") {
    HandExample ex;
    SGD opt(ex.fc, {.lr = 0.1f, .momentum = 0.9f, .nesterov = true});
    check_steps(ex, opt,
                {{{0.462000012f, -0.924000025f, 1.80999994f, 0.25f}, {0.00500000129f, -0.205000013f}},
                 {{0.4648f, -0.948600054f, 1.63399994f, -0.129999995f}, {-0.0829999968f, -0.354500026f}},
                 {{0.325320005f, -1.07674003f, 1.80559993f, -0.301499993f}, {0.240300015f, -0.422800034f}}});
  }
}

TEST_CASE("optim/set_lr: the following steps use the new learning rate, the state is kept") {
  SUBCASE("sgd") {
    HandExample ex;
    SGD opt(ex.fc, {.lr = 0.1f});
    opt.step(HandExample::grads(0));  // as the plain case: weight [0.48, -0.96, 1.9, 0.25]
    opt.set_lr(0.2f);
    opt.step(HandExample::grads(1));  // p -= 0.2 * g
    BL_CHECK_CLOSE(ex.fc.parameter("weight"), Tensor::from({2, 2}, {0.5f, -1.02f, 1.8f, -0.15f}), 1e-6, 1e-6);
    BL_CHECK_CLOSE(ex.fc.parameter("bias"), Tensor::from({2}, {0.0f, -0.45f}), 1e-6, 1e-6);
    CHECK(opt.options().lr == 0.2f);
    CHECK_THROWS_WITH_AS(opt.set_lr(0.0f), doctest::Contains("SGD::set_lr: expected lr > 0, got 0"), Error);
  }
  SUBCASE("adam: lr 0 moves nothing but counts the step; back at the default lr it continues as torch") {
    HandExample ex;
    Adam opt(ex.fc);
    opt.set_lr(0.0f);
    opt.step(HandExample::grads(0));
    CHECK(ex.fc.parameter("weight").to_vector() == std::vector<float>{0.5f, -1.0f, 2.0f, 0.25f});
    CHECK(opt.step_count("weight") == 1);
    opt.set_lr(1e-3f);
    opt.step(HandExample::grads(1));
    // The moments of step 1 are kept (m = 0.9 * 0.1 * 0.2 + 0.1 * -0.1, v likewise, t = 2): the
    // weight moves by -2.66e-4, where a first step with grads(1) alone would move it by +1e-3.
    CHECK(ex.fc.parameter("weight").data()[0] == doctest::Approx(0.4997337).epsilon(1e-6));
    CHECK_THROWS_WITH_AS(opt.set_lr(-1.0f), doctest::Contains("Adam::set_lr: expected lr >= 0, got -1"), Error);
  }
}

TEST_CASE("optim/adam: steps equal torch.optim.Adam") {
  SUBCASE("lr 0.01, betas (0.8, 0.99), eps 1e-6, weight_decay 0.05") {
    HandExample ex;
    Adam opt(ex.fc, {.lr = 0.01f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.05f});
    check_steps(ex, opt,
                {{{0.490000039f, -0.99000001f, 1.99000001f, 0.240000799f}, {0.0900000185f, -0.290000021f}},
                 {{0.486533642f, -0.988327384f, 1.9807086f, 0.232124925f}, {0.0808375776f, -0.294046402f}},
                 {{0.479040116f, -0.99313587f, 1.98152876f, 0.226203308f}, {0.0858429298f, -0.297665447f}}});
    CHECK(opt.step_count("weight") == 3);
  }
  SUBCASE("defaults") {
    HandExample ex;
    Adam opt(ex.fc);
    check_steps(ex, opt,
                {{{0.499000013f, -0.999000013f, 1.99899995f, 0.25f}, {0.0989999995f, -0.299000025f}},
                 {{0.49873367f, -0.998910666f, 1.99806774f, 0.249255866f}, {0.0980678201f, -0.299366117f}},
                 {{0.498062491f, -0.999390543f, 1.99814975f, 0.248664856f}, {0.0984892845f, -0.29971838f}}});
  }
  SUBCASE("a parameter without gradient keeps its value and its own step count") {
    HandExample ex;
    Adam opt(ex.fc);
    const NamedTensors only_weight{HandExample::grads(0)[0]};
    opt.step(only_weight);
    CHECK(ex.fc.parameter("bias").to_vector() == std::vector<float>{0.1f, -0.3f});
    CHECK(opt.step_count("weight") == 1);
    CHECK(opt.step_count("bias") == 0);
  }
}

TEST_CASE("optim: errors name the parameter and the problem") {
  HandExample ex;
  SGD sgd(ex.fc, {.lr = 0.1f});
  CHECK_THROWS_WITH_AS(sgd.step({{"weights", Tensor::zeros({2, 2})}}),
                       doctest::Contains("SGD::step: 'weights' is not a parameter of the model"), Error);
  CHECK_THROWS_WITH_AS(sgd.step({{"bias", Tensor::zeros({3})}}),
                       doctest::Contains("gradient for 'bias' has shape [3], expected the parameter's shape [2]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(sgd.step({{"bias", Tensor::zeros({2})}, {"bias", Tensor::zeros({2})}}),
                       doctest::Contains("two gradients for 'bias'"), Error);
  CHECK_THROWS_WITH_AS(SGD(ex.fc, {}), doctest::Contains("SGD: expected lr > 0"), Error);
  CHECK_THROWS_WITH_AS(SGD(ex.fc, {.lr = 0.1f, .nesterov = true}),
                       doctest::Contains("nesterov momentum requires momentum > 0 and zero dampening"), Error);
  CHECK_THROWS_WITH_AS(Adam(ex.fc, {.beta2 = 1.0f}), doctest::Contains("expected betas in [0, 1), got (0.9, 1)"),
                       Error);
  Adam adam(ex.fc);
  CHECK_THROWS_WITH_AS(adam.step({{"fc.weight", Tensor::zeros({2, 2})}}),
                       doctest::Contains("Adam::step: 'fc.weight' is not a parameter"), Error);
  // Nothing was applied by the failing calls.
  CHECK(ex.fc.parameter("bias").to_vector() == std::vector<float>{0.1f, -0.3f});
}

TEST_CASE("optim/parameter_gradients: sums a reused module's uses, matches finite differences") {
  std::mt19937_64 rng(kSeed);
  Reuse model(rng);
  model.set_path("net");
  const Tensor x = randn({4, 3}, rng);
  const Tensor cot = randn({4, 2}, rng);
  const std::array<int, 2> all{0, 1};
  auto loss_on = [&](Tape& tape) {
    return sum(mul(model.forward(tape.input(x)), tape.input(cot)), all, /*keepdim=*/true);
  };
  Tape tape;
  const NamedTensors grads = parameter_gradients(model, loss_on(tape));
  std::vector<std::string> names;
  for (const auto& [n, g] : grads) names.push_back(n);
  CHECK(names == std::vector<std::string>{"net.fc.weight", "net.fc.bias", "net.out.weight", "net.out.bias"});
  auto loss = [&]() {
    Tape t(TapeOptions{.record = false});
    return double(loss_on(t).value().item());
  };
  for (const auto& [name, g] : grads) {
    CAPTURE(name);
    const Tensor p = model.find(name.substr(4, name.rfind('.') - 4))->parameter(name.substr(name.rfind('.') + 1));
    BL_CHECK_CLOSE(g, finite_difference(p, loss), 2e-3, 1e-2);
  }
}

TEST_CASE("optim/parameter_gradients: attention's in_proj row blocks land in their rows") {
  std::mt19937_64 rng(kSeed);
  MultiheadAttention mha(4, 2, rng);
  mha.set_tensor("in_proj_bias", uniform({12}, rng, -0.5f, 0.5f));
  const Tensor x = randn({2, 3, 4}, rng);
  const Tensor cot = randn({2, 3, 4}, rng);
  const std::array<int, 3> all{0, 1, 2};
  auto loss_on = [&](Tape& tape) {
    return sum(mul(mha.forward(tape.input(x)), tape.input(cot)), all, /*keepdim=*/true);
  };
  Tape tape;
  const NamedTensors grads = parameter_gradients(mha, loss_on(tape));
  REQUIRE(grads.size() == 4);
  CHECK(grads[0].first == "in_proj_weight");
  CHECK(grads[0].second.shape() == Shape{12, 4});
  auto loss = [&]() {
    Tape t(TapeOptions{.record = false});
    return double(loss_on(t).value().item());
  };
  BL_CHECK_CLOSE(grads[0].second, finite_difference(mha.parameter("in_proj_weight"), loss), 2e-3, 1e-2);
  BL_CHECK_CLOSE(grads[1].second, finite_difference(mha.parameter("in_proj_bias"), loss), 2e-3, 1e-2);
  CHECK(grads[3].first == "out_proj.bias");

  // Leaves that are not the model's parameters are refused by name.
  Linear other(4, 4, rng);
  other.set_path("other");
  Tape t2;
  const Var y = other.forward(mha.forward(t2.input(x)));
  CHECK_THROWS_WITH_AS(parameter_gradients(mha, sum(y, all, true)),
                       doctest::Contains("tape parameter 'other.weight' is not a parameter of the MultiheadAttention"),
                       Error);
  CHECK_THROWS_WITH_AS(parameter_gradients(mha, y), doctest::Contains("expected a one-element loss, got shape [2,3,4]"),
                       ShapeError);
}

TEST_CASE("losses/cross_entropy: value and gradient are PyTorch's") {
  Tape tape;
  const Tensor logits_t = Tensor::from({3, 4}, {1, 2, 3, 0.5f, 0.5f, -1, 2, 0, -2, 0, 0, 4});
  const std::vector<int64_t> targets{2, 0, 3};
  Var logits = tape.input(logits_t);
  Var loss = cross_entropy(logits, targets);
  CHECK(loss.shape() == Shape{1});
  double expected = 0;
  Tensor expected_grad = Tensor::empty({3, 4});
  for (int64_t n = 0; n < 3; ++n) {
    double z = 0;
    for (int64_t c = 0; c < 4; ++c) z += std::exp(double(logits_t.at({n, c})));
    expected -= (logits_t.at({n, targets[n]}) - std::log(z)) / 3;
    for (int64_t c = 0; c < 4; ++c)
      expected_grad.data()[n * 4 + c] =
          static_cast<float>((std::exp(double(logits_t.at({n, c}))) / z - (c == targets[n])) / 3);
  }
  CHECK(loss.value().item() == doctest::Approx(expected).epsilon(1e-6));
  CHECK(expected == doctest::Approx(0.780495942).epsilon(1e-6));  // F.cross_entropy on the same numbers
  BL_CHECK_CLOSE(grad(loss, Tensor::full({1}, 1.0f), logits), expected_grad, 1e-6, 1e-5);
  CHECK(tape.node(tape.num_nodes() - 1).name == "cross_entropy");
  CHECK(tape.node(0).name == "cross_entropy.log_softmax");

  CHECK_THROWS_WITH_AS(cross_entropy(logits, std::vector<int64_t>{2, 0}),
                       doctest::Contains("expected 3 targets (one per row of logits [3,4]), got 2"), ShapeError);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, std::vector<int64_t>{2, 4, 0}),
                       doctest::Contains("target 1 is 4, expected a class index in [0, 4)"), Error);
}

TEST_CASE("optim: an MLP learns XOR with Adam (deterministic)") {
  std::mt19937_64 rng(kSeed);
  Sequential model{std::make_shared<Linear>(2, 8, rng), std::make_shared<Tanh>(), std::make_shared<Linear>(8, 2, rng)};
  const Tensor x = Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const std::vector<int64_t> y{0, 1, 1, 0};
  Adam opt(model, {.lr = 0.05f});
  auto accuracy = [&]() {
    Tape t(TapeOptions{.record = false});
    const Tensor logits = model.forward(t.input(x)).value();
    int correct = 0;
    for (int64_t n = 0; n < 4; ++n) correct += (logits.at({n, 1}) > logits.at({n, 0})) == (y[n] == 1);
    return correct;
  };
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    Tape tape;
    Var loss = cross_entropy(model.forward(tape.input(x)), y);
    if (step == 0) first_loss = loss.value().item();
    last_loss = loss.value().item();
    opt.step(parameter_gradients(model, loss));
  }
  CAPTURE(first_loss);
  CAPTURE(last_loss);
  CHECK(accuracy() == 4);
  CHECK(last_loss < 0.05f);
  CHECK(last_loss < first_loss);
}

}  // TEST_SUITE
