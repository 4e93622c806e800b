// The dataset commands `evaluate`, `similarity` and `dissect` as one job over several MPI
// processes (docs/cluster.md): rank 0's summary equals the single-process run's - bit for bit
// where the reduction order is fixed (evaluate's per-image values, similarity in example space,
// dissect's integer counts and merged sketches), within the documented 1e-9 where MPI adds the
// floating-point partial sums (similarity in feature space) - with 2 ranks, and with 3 ranks on
// fewer items than ranks (an idle rank still joins every collective).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cluster/mpirun.h"

namespace {

// evaluation.json without what may differ between runs (timings, the rank count).
nlohmann::json evaluation(const std::string& dir) {
  nlohmann::json j = nlohmann::json::parse(read_bytes(dir + "/evaluation.json"));
  j.erase("ranks");
  for (auto& m : j["methods"]) m.erase("seconds_per_image");
  return j;
}
}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/evaluate: 2 ranks and 3 ranks over 2 chunks give the single-process table bit for bit") {
  if (!backlight::test::mpirun_available() || !backlight::default_model_available()) return;
  TempDir dir("mpi_evaluate");
  const std::string common =
      "evaluate --images 5 --chunk 2 --methods saliency,grad_cam --metrics pointing_game,deletion,infidelity,fragility "
      "--curve-steps 8 --infidelity-samples 2 --threads 1 --out ";
  const SplitRun single = run_cli_split(common + "'" + dir.file("one") + "'", dir.file("err1.txt"));
  REQUIRE_MESSAGE(single.status == 0, single.out, single.err);
  const MpiRun two = mpirun_cli(2, common + "'" + dir.file("two") + "'", dir.file("err2.txt"));
  REQUIRE_MESSAGE(two.status == 0, two.all);
  const nlohmann::json one = evaluation(dir.file("one"));
  CHECK(nlohmann::json::parse(read_bytes(dir.file("two/evaluation.json"))).at("ranks") == 2);
  CHECK(evaluation(dir.file("two")) == one);  // every mean and standard error, to the last bit
  CHECK(contains(two.out, "| saliency |"));   // one table, rank 0's
  CHECK(two.out.find("| saliency |") == two.out.rfind("| saliency |"));
  CHECK(std::ifstream(dir.file("two/evaluation.png")).good());
  // The test can fail: another chunking draws other noise, so infidelity differs.
  const SplitRun other = run_cli_split("evaluate --images 5 --chunk 5 --methods saliency,grad_cam --metrics "
                                       "pointing_game,deletion,infidelity,fragility --curve-steps 8 --infidelity-samples 2 "
                                       "--threads 1 --out '" + dir.file("other") + "'",
                                       dir.file("err3.txt"));
  REQUIRE(other.status == 0);
  CHECK(evaluation(dir.file("other"))["methods"] != one["methods"]);

  // 3 ranks, 2 chunks: rank 2 has nothing to do.
  const std::string small =
      "evaluate --images 3 --chunk 2 --methods saliency --metrics deletion,infidelity --curve-steps 8 "
      "--infidelity-samples 2 --threads 1 --out ";
  const SplitRun single3 = run_cli_split(small + "'" + dir.file("one3") + "'", dir.file("err4.txt"));
  REQUIRE(single3.status == 0);
  const MpiRun three = mpirun_cli(3, small + "'" + dir.file("three") + "'", dir.file("err5.txt"));
  REQUIRE_MESSAGE(three.status == 0, three.all);
  CHECK(evaluation(dir.file("three")) == evaluation(dir.file("one3")));
}

TEST_CASE("mpi/similarity: example space equals the single process bit for bit; feature space within 1e-9") {
  if (!backlight::test::mpirun_available() || !backlight::default_model_available()) return;
  TempDir dir("mpi_similarity");
  // Example space (features.10 has more features than the 21 inputs): rows gathered in order.
  const std::string ex = "similarity --threads 1 --layers features.2,features.10,classifier.0 --count 21 --batch 4 "
                         "--json --out ";
  for (const std::string measure : {"cka", "cka_rbf"}) {
    CAPTURE(measure);
    const std::string args = ex + "'" + dir.file(measure + ".png") + "' --measure " + measure;
    const SplitRun single = run_cli_split(args, dir.file("err1.txt"));
    REQUIRE_MESSAGE(single.status == 0, single.err);
    const nlohmann::json one = nlohmann::json::parse(single.out);
    CHECK(one.at("space") == "example");
    const MpiRun two = mpirun_cli(2, args + " --fresh", dir.file("err2.txt"));
    REQUIRE_MESSAGE(two.status == 0, two.all);
    const nlohmann::json j2 = nlohmann::json::parse(two.out);
    CHECK(j2.at("ranks") == 2);
    CHECK(j2.at("examples") == 21);
    CHECK(j2.at("matrix") == one.at("matrix"));
    // 3 ranks over 2 batches: rank 2 reads nothing.
    const std::string few = "similarity --threads 1 --layers features.10,classifier.0 --count 6 --batch 4 --json "
                            "--measure " + measure + " --out '" + dir.file("few.png") + "'";
    const SplitRun single_few = run_cli_split(few, dir.file("err3.txt"));
    REQUIRE_MESSAGE(single_few.status == 0, single_few.err);
    const MpiRun three = mpirun_cli(3, few + " --fresh", dir.file("err4.txt"));
    REQUIRE_MESSAGE(three.status == 0, three.all);
    CHECK(nlohmann::json::parse(three.out).at("matrix") == nlohmann::json::parse(single_few.out).at("matrix"));
  }
  // Feature space (every layer narrower than the 90 inputs): sums and products added by MPI.
  for (int ranks : {2, 3}) {
    CAPTURE(ranks);
    const std::string args = "similarity --threads 1 --layers avgpool,classifier.0 --count 90 --batch 16 --json "
                             "--measure svcca --out '" + dir.file("f.png") + "'";
    const SplitRun single = run_cli_split(args, dir.file("err5.txt"));
    REQUIRE_MESSAGE(single.status == 0, single.err);
    const nlohmann::json one = nlohmann::json::parse(single.out);
    REQUIRE(one.at("space") == "feature");
    const MpiRun many = mpirun_cli(ranks, args + " --fresh", dir.file("err6.txt"));
    REQUIRE_MESSAGE(many.status == 0, many.all);
    const nlohmann::json j = nlohmann::json::parse(many.out);
    REQUIRE(j.at("matrix").size() == one.at("matrix").size());
    for (size_t r = 0; r < one["matrix"].size(); ++r)
      for (size_t c = 0; c < one["matrix"][r]["values"].size(); ++c) {
        const double a = one["matrix"][r]["values"][c].get<double>(), b = j["matrix"][r]["values"][c].get<double>();
        CHECK(std::fabs(a - b) <= 1e-9);
      }
  }
}

TEST_CASE("mpi/dissect: 2 and 3 ranks give the single-process dissection (sketches merged, counts summed)") {
  if (!backlight::test::mpirun_available() || !backlight::default_model_available()) return;
  TempDir dir("mpi_dissect");
  for (const std::string extra : {"", " --exact"}) {
    CAPTURE(extra);
    const std::string args = "dissect --threads 1 --count 10 --batch 4 --json --out '" + dir.file("d.png") + "'" + extra;
    const SplitRun single = run_cli_split(args, dir.file("err1.txt"));
    REQUIRE_MESSAGE(single.status == 0, single.err);
    const nlohmann::json one = dissection(single.out);
    REQUIRE(one.at("units").size() > 0);
    for (int ranks : {2, 3}) {  // 3 batches: with 3 ranks each has one, the last a short one
      CAPTURE(ranks);
      // --fresh: the distributed run computes every batch (not the ones the single run kept).
      const MpiRun many = mpirun_cli(ranks, args + " --fresh", dir.file("err2.txt"));
      REQUIRE_MESSAGE(many.status == 0, many.all);
      CHECK(nlohmann::json::parse(many.out).at("ranks") == ranks);
      CHECK(nlohmann::json::parse(many.out).at("resumed") == 0);
      CHECK(dissection(many.out) == one);
    }
  }
  // More ranks than batches: rank 2 scans nothing but merges an empty sketch.
  const std::string few = "dissect --threads 1 --count 3 --batch 2 --json --out '" + dir.file("e.png") + "'";
  const SplitRun single = run_cli_split(few, dir.file("err3.txt"));
  REQUIRE_MESSAGE(single.status == 0, single.err);
  const MpiRun three = mpirun_cli(3, few + " --fresh", dir.file("err4.txt"));
  REQUIRE_MESSAGE(three.status == 0, three.all);
  CHECK(dissection(three.out) == dissection(single.out));
}

}  // TEST_SUITE
