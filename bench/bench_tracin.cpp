// bench_tracin: TracInCP / TracInCPFast time per test example over a training set in memory, for
// bench/compare_tracin.py (which times Captum on the same checkpoints, data and layer).
//
//   bench_tracin --export DIR [--samples 5000] [--tests 8]
//       writes DIR/train_x.npy [N,3,64,64], train_y.npy, test_x.npy, test_y.npy (shapes dataset 1:
//       training indices [0, N), test images from the held-out range; labels as float32)
//   bench_tracin --checkpoints CK --data DIR --method tracincp|fast [--tests T] [--repeats R]
//                [--threads N] [--batch B] [--save scores.npy]
//       prints one JSON line: median seconds of tracin_influence(T tests x N train) and per test
//   bench_tracin --quick        smoke: tiny random run, self-influence = diagonal of influence
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "attribution/influence/tracin.h"
#include "engine/parallel.h"
#include "io/npy.h"
#include "models/checkpoints.h"
#include "models/data/shapes.h"
#include "models/default_model.h"

using namespace backlight;
using backlight::cli::load_npy;
using backlight::cli::save_npy;

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}
bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == "--" + name) return true;
  return false;
}

Tensor labels_tensor(const std::vector<int64_t>& y) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(y.size())});
  for (size_t i = 0; i < y.size(); ++i) t.data()[i] = static_cast<float>(y[i]);
  return t;
}
LabeledBatch load_set(const std::string& dir, const std::string& prefix) {
  LabeledBatch b{load_npy(dir + "/" + prefix + "_x.npy"), {}};
  const Tensor y = load_npy(dir + "/" + prefix + "_y.npy");  // named: span() of a temporary would dangle
  for (float v : y.span()) b.labels.push_back(static_cast<int64_t>(v));
  return b;
}

int quick() {
  const ShapesBatch b = make_shapes_batch(ShapesConfig{.height = 32, .width = 32}, 1, 0, 12);
  const LabeledBatch set{b.images, b.labels};
  const std::vector<TracInCheckpoint> cks{{0.01, [] { return default_model(); }}};
  const TracInOptions o{.batch_size = 5};
  const Tensor all = tracin_influence(cks, examples_in_memory(set), set, o);
  const Tensor self = tracin_self_influence(cks, examples_in_memory(set), o);
  for (int64_t i = 0; i < 12; ++i) {
    const float a = all.data()[i * 12 + i], s = self.data()[i];
    if (std::abs(a - s) > 1e-4f * std::max(1.0f, std::abs(s))) {
      std::cerr << "bench_tracin: validation failed: self-influence " << s << " != diagonal " << a << " at " << i << "\n";
      return 1;
    }
  }
  std::cout << "bench_tracin --quick: validation ok (12 examples)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  if (flag(argc, argv, "quick")) return quick();
  if (const int t = std::stoi(arg(argc, argv, "threads", "0")); t > 0) set_num_threads(t);
  const std::string exp = arg(argc, argv, "export", "");
  if (!exp.empty()) {
    const int64_t n = std::stoll(arg(argc, argv, "samples", "5000")), t = std::stoll(arg(argc, argv, "tests", "8"));
    std::filesystem::create_directories(exp);
    const ShapesBatch train = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, 0, n);
    const ShapesBatch test = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin, t);
    save_npy(exp + "/train_x.npy", train.images);
    save_npy(exp + "/train_y.npy", labels_tensor(train.labels));
    save_npy(exp + "/test_x.npy", test.images);
    save_npy(exp + "/test_y.npy", labels_tensor(test.labels));
    std::cout << "wrote " << n << " training and " << t << " test examples to " << exp << "\n";
    return 0;
  }
  const std::string data = arg(argc, argv, "data", ""), ckdir = arg(argc, argv, "checkpoints", "");
  if (data.empty() || ckdir.empty()) {
    std::cerr << "usage: bench_tracin --export DIR | --checkpoints CK --data DIR --method tracincp|fast | --quick\n";
    return 2;
  }
  const LabeledBatch train = load_set(data, "train");
  LabeledBatch test = load_set(data, "test");
  const int64_t t = std::min<int64_t>(test.inputs.size(0), std::stoll(arg(argc, argv, "tests", "1")));
  test = {test.inputs.slice_batch(0, t), std::vector<int64_t>(test.labels.begin(), test.labels.begin() + t)};
  std::mt19937_64 rng(0);
  const ModulePtr arch = make_shapes_cnn(rng);
  std::vector<TracInCheckpoint> cks;
  for (const CheckpointInfo& c : list_checkpoints(ckdir)) cks.push_back({c.lr, [arch, c] { return load_checkpoint(*arch, c); }});
  const TracInOptions o{.method = tracin_method_from_string(arg(argc, argv, "method", "tracincp")),
                        .batch_size = std::stoll(arg(argc, argv, "batch", "64"))};
  const ExampleSource src = examples_in_memory(train);
  const int repeats = std::stoi(arg(argc, argv, "repeats", "3"));
  std::vector<double> times, cpu;
  Tensor scores;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();  // process CPU time, all threads
    scores = tracin_influence(cks, src, test, o);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  const double median = times[times.size() / 2];
  if (const std::string save = arg(argc, argv, "save", ""); !save.empty()) save_npy(save, scores);
  std::cout << "{\"side\": \"backlight\", \"method\": \"" << to_string(o.method) << "\", \"tests\": " << t
            << ", \"train\": " << train.inputs.size(0) << ", \"checkpoints\": " << cks.size()
            << ", \"threads\": " << num_threads() << ", \"median_s\": " << median
            << ", \"per_test_s\": " << median / static_cast<double>(t) << ", \"cpu_s\": " << cpu[cpu.size() / 2]
            << "}\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_tracin: error: " << e.what() << "\n";
  return 1;
}
