// `backlight explain --images` as one job over several MPI processes (docs/cluster.md): the same
// files as a single-process run, bit for bit; more ranks than images; a bad image on one rank; a
// rank killed mid-run, then a rerun that resumes and ends with the uninterrupted run's files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/image_io.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cluster/mpirun.h"

using namespace backlight;

namespace {

// `count` shapes images (the embedded ones, shifted so that each differs) named img0.png, ...
void write_images(const std::string& folder, int count) {
  fs::create_directories(folder);
  const auto images = default_images();
  for (int i = 0; i < count; ++i) {
    Tensor t = images.at(static_cast<size_t>(i) % images.size()).sample.image.clone();
    for (float& v : t.span()) v = std::min(1.0f, v + 0.01f * static_cast<float>(i / images.size()));
    cli::write_png(folder + "/img" + std::to_string(i) + ".png", t);
  }
}

// Every regular file under `folder` except the manifest, as relative path -> bytes.
std::map<std::string, std::string> outputs(const std::string& folder) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    const std::string rel = fs::relative(e.path(), folder).string();
    if (e.is_regular_file() && rel.rfind(".backlight-manifest", 0) != 0) files[rel] = read_bytes(e.path().string());
  }
  return files;
}

std::string explain_args(const std::string& in, const std::string& out, const std::string& methods) {
  return "explain --images '" + in + "' --out '" + out + "' --save '" + out + "' --method " + methods +
         " --threads 1 --json";
}

size_t count_png(const std::string& folder) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(folder)) n += e.path().extension() == ".png";
  return n;
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/explain: 2 ranks write the single-process run's files bit for bit; 3 ranks over 2 images too") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_explain");
  const std::string in = dir.file("in");
  write_images(in, 5);
  const std::string methods = "saliency,integrated_gradients,grad_cam";
  const SplitRun single = run_cli_split(explain_args(in, dir.file("one"), methods), dir.file("err1.txt"));
  REQUIRE_MESSAGE(single.status == 0, single.out, single.err);
  const MpiRun two = mpirun_cli(2, explain_args(in, dir.file("two"), methods), dir.file("err2.txt"));
  REQUIRE_MESSAGE(two.status == 0, two.all);
  const nlohmann::json j = nlohmann::json::parse(two.out);  // one summary: rank 0's
  CHECK(j.at("ranks") == 2);
  CHECK(j.at("images") == 5);
  CHECK(j.at("failed") == 0);
  REQUIRE(j.at("results").size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(contains(j["results"][i].at("input").get<std::string>(), "img" + std::to_string(i)));
  const auto expected = outputs(dir.file("one"));
  CHECK(expected.size() == 10);  // 5 PNG + 5 .npy
  CHECK(outputs(dir.file("two")) == expected);

  // More ranks than images: the idle rank still takes part in the collectives.
  const std::string in2 = dir.file("in2");
  write_images(in2, 2);
  const SplitRun single2 = run_cli_split(explain_args(in2, dir.file("one2"), "saliency"), dir.file("err3.txt"));
  REQUIRE(single2.status == 0);
  const MpiRun three = mpirun_cli(3, explain_args(in2, dir.file("three"), "saliency"), dir.file("err4.txt"));
  REQUIRE_MESSAGE(three.status == 0, three.all);
  CHECK(nlohmann::json::parse(three.out).at("ranks") == 3);
  CHECK(outputs(dir.file("three")) == outputs(dir.file("one2")));
}

TEST_CASE("mpi/explain: a bad image on one rank is reported and skipped; the others are written") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_bad");
  const std::string in = dir.file("in"), out = dir.file("out");
  write_images(in, 3);
  backlight::test::write_bytes(in + "/img1.png", "not a png");  // index 1: rank 1's
  const MpiRun r = mpirun_cli(2, explain_args(in, out, "saliency"), dir.file("err.txt"));
  CHECK(r.status == 1);
  CHECK(contains(r.all, "rank 1 of 2: skipped '" + in + "/img1.png'"));
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("failed") == 1);
  CHECK(j["results"][1].at("status") == "error");
  CHECK(fs::exists(out + "/img0.png"));
  CHECK(fs::exists(out + "/img2.png"));
}

TEST_CASE("mpi/explain: one process under mpirun -n 2 with a single --image is a usage error") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_single");
  const MpiRun r = mpirun_cli(2, "explain --out '" + dir.file("x.png") + "'", dir.file("err.txt"));
  CHECK(r.status == 2);
  CHECK(contains(r.all, "only batch mode"));
}

TEST_CASE("mpi/explain: a rank killed mid-run fails the job naming it; the rerun resumes to the same files") {
  if (!backlight::test::mpirun_available() || !default_model_available()) return;
  TempDir dir("mpi_kill");
  const std::string in = dir.file("in"), out = dir.file("killed");
  constexpr int kImages = 8;
  write_images(in, kImages);
  // Slow enough per image that the kill lands mid-run.
  const std::string methods = "integrated_gradients --steps 1500";
  const SplitRun reference = run_cli_split(explain_args(in, dir.file("ref"), methods), dir.file("err_ref.txt"));
  REQUIRE(reference.status == 0);

  backlight::test::kill_mid_run({.args = explain_args(in, out, methods),
                                 .log_file = dir.file("killed_out.txt"),
                                 .marker = out,
                                 .ready = [&] { return fs::exists(out) && count_png(out) >= 2; }});
  const size_t written = count_png(out);
  CHECK(written < static_cast<size_t>(kImages));

  const MpiRun rerun = mpirun_cli(2, explain_args(in, out, methods), dir.file("err_rerun.txt"));
  REQUIRE_MESSAGE(rerun.status == 0, rerun.all);
  CHECK(contains(rerun.all, "resuming"));
  const nlohmann::json j = nlohmann::json::parse(rerun.out);
  CHECK(j.at("resumed").get<size_t>() >= 1);
  CHECK(j.at("results").size() == static_cast<size_t>(kImages));
  CHECK(outputs(out) == outputs(dir.file("ref")));

  // A third run has nothing left to do; --fresh redoes everything.
  const MpiRun again = mpirun_cli(2, explain_args(in, out, methods), dir.file("err_again.txt"));
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(again.out).at("resumed") == kImages);
}

}  // TEST_SUITE

TEST_SUITE("mpi") {

TEST_CASE("mpi: a command that does not share its work refuses to run as several processes") {
  if (!backlight::test::mpirun_available()) return;
  TempDir dir("mpi_refuse");
  const MpiRun r = mpirun_cli(2, "visualize", dir.file("err.txt"));
  CHECK(r.status == 2);
  CHECK(contains(r.all, "visualize: started as 2 MPI processes"));
}

}  // TEST_SUITE
