// The custom-architecture example of docs/models.md: the code between the markers is the doc's
// (checked textually below, so the doc cannot rot), and its state_dict keys are PyTorch's for the
// equivalent nn.Module (printed by torch 1.13, in the doc's comment).
#include <fstream>
#include <random>
#include <sstream>

#include "engine/modules/all.h"
#include "engine/ops/ops.h"
#include "models/state_dict.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"

namespace docs_example {
// --- docs/models.md example begin
class Net : public backlight::ModuleImpl<Net> {
 public:
  explicit Net(std::mt19937_64& rng) {
    using namespace backlight;
    register_module("stem", std::make_shared<Sequential>(Sequential{
        std::make_shared<Conv2d>(3, 16, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<BatchNorm2d>(16),
        std::make_shared<ReLU>()}));
    register_module("skip", std::make_shared<Conv2d>(16, 16, 1, rng));
    register_module("head", std::make_shared<Linear>(16, 5, rng));
  }
  backlight::Var forward(const backlight::Var& x) const override {
    using namespace backlight;
    Var h = child("stem").forward(x);
    h = add(h, child("skip").forward(h), "residual");  // an `add` node rules can target
    h = flatten(adaptive_avgpool2d(h, 1, 1, "pool"), 1, -1, "flatten");
    return child("head").forward(h);
  }
  std::string type_name() const override { return "Net"; }
};
// --- docs/models.md example end
}  // namespace docs_example

using namespace backlight;
using namespace backlight::test;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("docs/models.md: the custom architecture example is the doc's, has PyTorch's keys, loads weights") {
  // By the source tree, not __FILE__: the build writes __FILE__ relative to its own folder.
  const std::string self = read_text(BACKLIGHT_TEST_DATA "/../models/test_docs_models.cpp");
  const size_t begin = self.find("class Net : public"), end = self.find("// --- docs/models.md example end");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const std::string code = self.substr(begin, end - begin);
  const std::string doc = read_text(BACKLIGHT_TEST_DATA "/../../docs/models.md");
  CHECK_MESSAGE(doc.find(code) != std::string::npos, "docs/models.md no longer contains the example of ", __FILE__);

  std::mt19937_64 rng(0);
  docs_example::Net net(rng);
  std::vector<std::string> keys;
  for (const auto& [k, t] : net.state_dict()) keys.push_back(k + t.shape().str());
  CHECK(keys == std::vector<std::string>{"stem.0.weight[16,3,3,3]", "stem.0.bias[16]", "stem.1.weight[16]",
                                         "stem.1.bias[16]", "stem.1.running_mean[16]", "stem.1.running_var[16]",
                                         "stem.1.num_batches_tracked[]", "skip.weight[16,16,1,1]", "skip.bias[16]",
                                         "head.weight[5,16]", "head.bias[5]"});

  TempDir tmp("docs_models");
  std::mt19937_64 rng2(1);
  docs_example::Net trained(rng2);
  save_weights(trained, tmp.file("net.safetensors"));
  load_weights(net, tmp.file("net.safetensors"));
  std::mt19937_64 data(kSeed);
  const Tensor x = uniform({2, 3, 8, 8}, data);
  Tape t1(TapeOptions{.record = false}), t2(TapeOptions{.record = false});
  CHECK(net.forward(t1.input(x)).value().to_vector() == trained.forward(t2.input(x)).value().to_vector());
}

}  // TEST_SUITE
