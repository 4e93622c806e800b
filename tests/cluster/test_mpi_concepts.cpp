// `backlight tcav`, `influence` and `sanity` as one job over several MPI processes
// (docs/cluster.md): the JSON and picture of a 2-rank run equal the single-process run's bit for
// bit (every reduction here has a fixed order), a 3-rank run with fewer batches than ranks too,
// and an unreadable item on rank 1 is reported by that rank and left out, as a single run does.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/shapes_images.h"
#include "tests/cli/temp_dir.h"
#include "tests/cluster/mpirun.h"

using namespace backlight;

namespace {

// The JSON a run printed, without what names the run itself (rank count, output path).
nlohmann::json result(const std::string& out) { return backlight::test::json_without(out, {"ranks", "png"}); }

// Runs `args` as one process and as `ranks` processes; both must exit with `status`.
std::pair<SplitRun, MpiRun> both(const TempDir& dir, int ranks, const std::string& one_args,
                                 const std::string& many_args, int status, const std::string& tag) {
  const SplitRun one = run_cli_split(one_args, dir.file(tag + "_err1.txt"));
  REQUIRE_MESSAGE(one.status == status, one.out, one.err);
  const MpiRun many = mpirun_cli(ranks, many_args, dir.file(tag + "_errn.txt"));
  REQUIRE_MESSAGE(many.status == status, many.all);
  CHECK(nlohmann::json::parse(many.out).at("ranks") == ranks);
  return {one, many};
}

// Checkpoints of a short fine-tuning run (3 of them), shared by the influence cases.
const TempDir& checkpoints() {
  static const TempDir d("mpi_influence_ck");
  static const bool ok = [] {
    const SplitRun r = run_cli_split("train --init default --samples 48 --epochs 1 --batch 16 --lr 0.0003 "
                                     "--flip-labels 0.2 --seed 1 --held-out 16 --save-every 1 --checkpoint-dir '" +
                                         d.file("ck") + "' --out '" + d.file("final.safetensors") + "'",
                                     d.file("train_err.txt"));
    REQUIRE_MESSAGE(r.status == 0, r.out, r.err);
    return true;
  }();
  (void)ok;
  return d;
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/tcav: 2 and 3 ranks give the single run's scores, CAV accuracies and chart bit for bit") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_tcav");
  const auto args = [](const std::string& png, const std::string& sizes) {
    return "tcav --demo-concepts circle,red --layers features.8,features.9 --target circle --threads 1 --json " +
           sizes + " --out '" + png + "'";
  };
  // 7 inputs in batches of 2, sets of 6: every rank has concept, random and input batches.
  const std::string a = "--set-size 6 --random-sets 3 --count 7 --batch 2";
  const auto [one, two] = both(dir, 2, args(dir.file("one.png"), a), args(dir.file("two.png"), a), 0, "two");
  const nlohmann::json j = result(one.out);
  CHECK(j.at("inputs") == 7);
  CHECK(j.at("results").size() == 4);
  CHECK(result(two.out) == j);
  CHECK(read_bytes(dir.file("two.png")) == read_bytes(dir.file("one.png")));
  // One batch per set and one input batch: ranks 1 and 2 score no inputs.
  const std::string b = "--set-size 4 --random-sets 2 --count 3 --batch 4";
  const auto [one3, three] = both(dir, 3, args(dir.file("one3.png"), b), args(dir.file("three.png"), b), 0, "three");
  CHECK(result(three.out) == result(one3.out));
  CHECK(read_bytes(dir.file("three.png")) == read_bytes(dir.file("one3.png")));
}

TEST_CASE("mpi/tcav: an unreadable input on rank 1 is reported by it and left out, as in a single run") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_tcav_bad");
  backlight::test::write_shapes_images(dir.file("concept"), "c", 4, 31);
  backlight::test::write_shapes_images(dir.file("pool"), "p", 8, 32);
  backlight::test::write_shapes_images(dir.file("in"), "in", 4, 33);
  backlight::test::write_bytes(dir.file("in/in1.png"), "not a png");  // batch 1 of size 1: rank 1's
  const std::string args = "tcav --concept 'c=" + dir.file("concept") + "' --random '" + dir.file("pool") +
                           "' --random-sets 2 --set-size 4 --inputs '" + dir.file("in") +
                           "' --layers features.9 --batch 1 --threads 1 --json --out '" + dir.file("t.png") + "'";
  // --fresh: the distributed run computes every unit (not the ones the single run kept).
  const auto [one, two] = both(dir, 2, args, args + " --fresh", 1, "bad");
  CHECK(contains(two.all, "tcav: rank 1 of 2: skipped '" + dir.file("in") + "/in1.png'"));
  CHECK(contains(one.err, "tcav: skipped '" + dir.file("in") + "/in1.png'"));
  const nlohmann::json j = result(two.out);
  CHECK(j.at("inputs") == 3);
  CHECK(j.at("skipped").size() == 1);
  CHECK(j == result(one.out));
}

TEST_CASE("mpi/influence: self-influence and proponents/opponents equal the single run's; 3 ranks over 2 batches") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_influence");
  const std::string ck = " --checkpoints '" + checkpoints().file("ck") + "' --train builtin:shapes --threads 1 --json";
  // 48 examples in batches of 8: 6 batches, 3 per rank.
  const std::string self = "influence" + ck + " --self-influence --top 10 --batch 8";
  const auto [one, two] = both(dir, 2, self, self, 0, "self");
  const nlohmann::json j = result(one.out);
  CHECK(j.at("self_influence").size() == 10);
  CHECK(result(two.out) == j);

  const auto test_args = [&](const std::string& png) {
    return "influence" + ck + " --test builtin:circle --top 5 --batch 8 --out '" + png + "'";
  };
  const auto [one_t, two_t] = both(dir, 2, test_args(dir.file("one.png")), test_args(dir.file("two.png")), 0, "test");
  const nlohmann::json jt = result(one_t.out);
  REQUIRE(jt.at("tests").size() == 1);
  CHECK(jt["tests"][0].at("proponents").size() == 5);
  CHECK(result(two_t.out) == jt);
  CHECK(read_bytes(dir.file("two.png")) == read_bytes(dir.file("one.png")));

  // 12 examples in batches of 8: rank 2 has none; --top larger than the set keeps all 12.
  const std::string small = "influence" + ck + " --test builtin:square --train-limit 12 --top 20 --batch 8";
  const auto [one3, three] = both(dir, 3, small, small, 0, "three");
  CHECK(result(one3.out)["tests"][0].at("opponents").size() == 12);
  CHECK(result(three.out) == result(one3.out));
}

TEST_CASE("mpi/influence: an unreadable training image on rank 1 is reported and left out of the ranking") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_influence_bad");
  const std::string root = dir.file("train");
  backlight::test::write_shapes_images(root + "/circle", "a", 3, 41);
  backlight::test::write_shapes_images(root + "/square", "b", 3, 42);
  // Examples: circle a0-a2 (0-2), square b0-b2 (3-5); batches of 2: b0 is in batch 1, rank 1's.
  backlight::test::write_bytes(root + "/square/b0.png", "not a png");
  const std::string args = "influence --checkpoints '" + checkpoints().file("ck") + "' --train '" + root +
                           "' --self-influence --top 6 --batch 2 --threads 1 --json";
  const auto [one, two] = both(dir, 2, args, args, 1, "bad");
  CHECK(contains(two.all, "influence: rank 1 of 2: skipped '" + root + "/square/b0.png'"));
  const nlohmann::json j = result(two.out);
  REQUIRE(j.at("skipped").size() == 1);
  CHECK(j["skipped"][0].at("index") == 3);
  REQUIRE(j.at("self_influence").size() == 5);
  for (const auto& e : j["self_influence"]) CHECK(e.at("index") != 3);
  CHECK(j == result(one.out));
}

TEST_CASE("mpi/sanity: 2 ranks give the single run's similarities and figure bit for bit; 3 ranks over 2 images") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_sanity");
  const auto args = [](const std::string& png, const std::string& rest) {
    return "sanity --methods saliency,grad_cam --chunk 1 --threads 1 --json " + rest + " --out '" + png + "'";
  };
  const auto [one, two] = both(dir, 2, args(dir.file("one.png"), "--images 3"), args(dir.file("two.png"), "--images 3"),
                               0, "two");
  const nlohmann::json j = result(one.out);
  CHECK(j.at("images") == 3);
  REQUIRE(j.at("methods").size() == 2);
  CHECK(j["methods"][1]["steps"].size() == 6);
  CHECK(result(two.out) == j);
  CHECK(read_bytes(dir.file("two.png")) == read_bytes(dir.file("one.png")));
  const std::string ind = "--images 2 --mode independent";
  const auto [one3, three] = both(dir, 3, args(dir.file("one3.png"), ind), args(dir.file("three.png"), ind), 0, "three");
  CHECK(result(three.out) == result(one3.out));
  CHECK(read_bytes(dir.file("three.png")) == read_bytes(dir.file("one3.png")));
}

TEST_CASE("mpi/sanity: an unreadable image on rank 1 is reported and skipped; the others are compared") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_sanity_bad");
  backlight::test::write_shapes_images(dir.file("in"), "img", 3, 51);
  backlight::test::write_bytes(dir.file("in/img1.png"), "not a png");  // chunk 1: rank 1's
  const std::string args = "sanity --data '" + dir.file("in") +
                           "' --images 3 --chunk 1 --methods saliency --threads 1 --json --out '" + dir.file("s.png") + "'";
  // --fresh: the distributed run computes every chunk (not the ones the single run kept).
  const auto [one, two] = both(dir, 2, args, args + " --fresh", 1, "bad");
  CHECK(contains(two.all, "sanity: rank 1 of 2: skipped '" + dir.file("in") + "/img1.png'"));
  const nlohmann::json j = result(two.out);
  CHECK(j.at("images") == 2);
  CHECK(j.at("skipped").size() == 1);
  CHECK(j == result(one.out));
}

}  // TEST_SUITE
