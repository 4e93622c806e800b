#include "tools/commands/roar_job.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "attribution/registry.h"
#include "engine/error.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/training/accuracy.h"
#include "tools/cluster/manifest.h"

namespace backlight::cli {

namespace {

// Attributions are computed this many images per call: IG runs all its steps of a call as one
// batch (8 images x 50 steps = 400 rows of shapes_cnn activations, ~0.2 GB with the tape).
constexpr int64_t kRankingChunk = 8;

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << std::hex << std::setw(16) << std::setfill('0') << v;
  return os.str();
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

// [N, C, H, W] -> [N, 1, H, W] channel sums.
Tensor channel_summed(const Tensor& a) {
  const int64_t n = a.size(0), c = a.size(1), hw = a.size(2) * a.size(3);
  Tensor out = Tensor::zeros(Shape{n, 1, a.size(2), a.size(3)});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < hw; ++j) out.data()[i * hw + j] += a.data()[(i * c + ch) * hw + j];
  return out;
}

Tensor slice_rows(const Tensor& t, int64_t begin, int64_t end) {
  const int64_t per = t.numel() / t.size(0);
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out = Tensor::empty(s);
  std::copy(t.data() + begin * per, t.data() + end * per, out.data());
  return out;
}

Tensor method_ranking(const std::string& method, const Module& model, const Tensor& images,
                      const std::vector<int64_t>& labels, const std::string& layer) {
  MethodOptions mo;
  for (const MethodInfo& info : methods())
    if (info.name == method && (info.needs_layer || info.family == "cam")) mo.layer = layer;
  const int64_t n = images.size(0);
  Tensor out = Tensor::empty(Shape{n, 1, images.size(2), images.size(3)});
  for (int64_t b = 0; b < n; b += kRankingChunk) {
    const int64_t e = std::min(n, b + kRankingChunk);
    const Target target = Target::indices(std::vector<int64_t>(labels.begin() + b, labels.begin() + e));
    Tensor map = attribute(method, model, slice_rows(images, b, e), target, mo).attribution;
    BL_CHECK(map.dim() == 4 && map.size(2) == images.size(2) && map.size(3) == images.size(3),
             "roar: method '", method, "' gave attributions ", map.shape(), ", expected [N, C, ", images.size(2),
             ", ", images.size(3), "] (a map per pixel)");
    const Tensor summed = channel_summed(map);
    std::copy(summed.data(), summed.data() + summed.numel(), out.data() + b * images.size(2) * images.size(3));
  }
  return out;
}

}  // namespace

std::string RoarTask::key() const {
  if (mode == "none") return "base-seed" + std::to_string(seed);
  return mode + "-" + method + "-" + std::to_string(percent) + "-seed" + std::to_string(seed);
}

RoarJob::RoarJob(const RoarData& data, TrainRecipe recipe, std::string cache_dir, const std::string& job)
    : data_(data), recipe_(std::move(recipe)), dir_(std::move(cache_dir)), fingerprint_(hex(fnv1a64(job))),
      mean_(channel_means(data.train_images)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_))
    throw Error("roar: cannot create the cache folder '" + dir_ + "'" + (ec ? ": " + ec.message() : std::string()));
}

std::string RoarJob::path(const std::string& stem) const { return (std::filesystem::path(dir_) / (stem + ".safetensors")).string(); }

std::optional<RoarOutcome> RoarJob::cached(const RoarTask& task) const {
  const std::string p = path(task.key());
  if (!std::filesystem::is_regular_file(p)) return std::nullopt;
  try {
    const SafeTensorsFile f = read_safetensors(p);
    const auto job = f.metadata.find("roar_job");
    if (job == f.metadata.end() || job->second != fingerprint_) return std::nullopt;
    return RoarOutcome{.test_accuracy = std::stod(f.metadata.at("test_accuracy")),
                       .train_accuracy = std::stod(f.metadata.at("train_accuracy")),
                       .seconds = std::stod(f.metadata.at("train_seconds")),
                       .cached = true};
  } catch (const std::exception&) {
    return std::nullopt;  // truncated or foreign: trained again
  }
}

RoarOutcome RoarJob::run(const RoarTask& task) {
  Tensor train = data_.train_images, test = data_.test_images;
  if (task.mode != "none") {
    const Ranking r = load_ranking(task.method);
    const RoarMode m = task.mode == "kar" ? RoarMode::Keep : RoarMode::Remove;
    train = roar_modify(train, r.train, task.percent / 100.0, m, mean_);
    test = roar_modify(test, r.test, task.percent / 100.0, m, mean_);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::mt19937_64 rng(task.seed);
  ModulePtr model = make_shapes_cnn(rng, data_.classes);
  const TrainResult tr = train_classifier(*model, tensor_classifier_data(train, data_.train_labels), recipe_, rng);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double accuracy = classifier_accuracy(*model, tensor_classifier_data(test, data_.test_labels));
  save_weights(*model, path(task.key()),
               {{"arch", "shapes_cnn"},
                {"num_classes", std::to_string(data_.classes)},
                {"roar_job", fingerprint_},
                {"roar_task", task.key()},
                {"test_accuracy", number(accuracy)},
                {"train_accuracy", number(tr.last.accuracy)},
                {"train_seconds", number(seconds)}});
  return {.test_accuracy = accuracy, .train_accuracy = tr.last.accuracy, .seconds = seconds, .cached = false};
}

ModulePtr RoarJob::base_model(uint64_t seed) {
  const RoarTask task{.mode = "none", .seed = seed};
  if (!cached(task)) run(task);
  std::mt19937_64 rng(seed);
  ModulePtr model = make_shapes_cnn(rng, data_.classes);
  load_weights(*model, path(task.key()), LoadOptions{.arch = "shapes_cnn"});
  return model;
}

bool RoarJob::has_ranking(const std::string& method) const {
  const std::string p = path("ranking-" + method);
  if (!std::filesystem::is_regular_file(p)) return false;
  try {
    const SafeTensorsFile f = read_safetensors(p);
    const auto job = f.metadata.find("roar_job");
    return job != f.metadata.end() && job->second == fingerprint_ && f.contains("train") && f.contains("test") &&
           f.at("train").size(0) == data_.train_images.size(0) && f.at("test").size(0) == data_.test_images.size(0);
  } catch (const std::exception&) {
    return false;
  }
}

void RoarJob::compute_ranking(const std::string& method, const Module& model, const std::string& layer) {
  Tensor train, test;
  if (method == "random") {
    // Different streams for the two sets: random_ranking keys its draws on the element index.
    train = random_ranking(data_.train_images, 0);
    test = random_ranking(data_.test_images, 1);
  } else if (method == "sobel") {
    train = sobel_ranking(data_.train_images);
    test = sobel_ranking(data_.test_images);
  } else {
    train = method_ranking(method, model, data_.train_images, data_.train_labels, layer);
    test = method_ranking(method, model, data_.test_images, data_.test_labels, layer);
  }
  const std::vector<std::pair<std::string, Tensor>> tensors = {{"train", train}, {"test", test}};
  write_safetensors(path("ranking-" + method), tensors, {{"roar_job", fingerprint_}, {"method", method}});
}

RoarJob::Ranking RoarJob::load_ranking(const std::string& method) const {
  const SafeTensorsFile f = read_safetensors(path("ranking-" + method));
  return {f.at("train").clone(), f.at("test").clone()};
}

}  // namespace backlight::cli
