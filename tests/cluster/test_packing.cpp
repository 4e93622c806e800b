// The one byte packer (attribution/core/packing.h: the MPI collectives' messages and the resume
// units) and Cluster's one-process behaviour (tools/cluster/cluster.h): values read back as
// written, short messages refused, and fail_together throwing the failing rank's message.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "engine/error.h"
#include "tools/cluster/cluster.h"
#include "attribution/core/packing.h"
#include "attribution/core/reducer.h"
#include "tools/cluster/packing.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("cli") {

TEST_CASE("cluster/packing: values, spans and strings read back in order; a short message is refused") {
  Packer p;
  p.put<int64_t>(-7);
  p.put<double>(0.1);
  const std::vector<float> v{1.5f, -0.0f, 3.25f};
  p.put_span(std::span<const float>(v));
  p.put_string("rank 1");
  p.put_span(std::span<const int64_t>());
  const std::string bytes = p.take();
  Unpacker u(bytes, "test");
  CHECK(u.get<int64_t>() == -7);
  CHECK(u.get<double>() == 0.1);
  CHECK(u.get_vector<float>() == v);
  CHECK(u.get_string() == "rank 1");
  CHECK(u.get_vector<int64_t>().empty());
  CHECK(u.done());
  CHECK_THROWS_WITH_AS(u.get<int32_t>(), doctest::Contains("test: a message ended early"), Error);
  const std::string cut = bytes.substr(0, 28);  // the float span's length, then 4 of its 12 bytes
  Unpacker w(cut, "cut");
  (void)w.get<int64_t>();
  (void)w.get<double>();
  CHECK_THROWS_WITH_AS(w.get_vector<float>(), doctest::Contains("announces 3 values"), Error);
}

TEST_CASE("cluster/packing: one packer - the CLI's names are the library's, pack/pack_span read back by Unpacker") {
  static_assert(std::is_same_v<cli::Packer, backlight::Packer>);
  static_assert(std::is_same_v<cli::Unpacker, backlight::Unpacker>);
  std::string bytes;
  pack(bytes, int64_t{42});
  const std::vector<double> v{0.5, -2.0};
  pack_span(bytes, std::span<const double>(v));
  Packer p;
  p.put<int64_t>(42);
  p.put_span(std::span<const double>(v));
  CHECK(p.bytes() == bytes);  // the free functions write what Packer writes
  Unpacker u(bytes);
  CHECK(u.get<int64_t>() == 42);
  CHECK(u.get_vector<double>() == v);
  CHECK(u.done());
  CHECK_THROWS_WITH_AS(u.get<char>(), doctest::Contains("Unpacker: a message ended early"), Error);
}

TEST_CASE("cluster: one process is rank 0 of 1; fail_together throws the error it is given") {
  if (launched_by_mpi()) return;  // under a launcher this process would join that job
  const Cluster c("test");
  CHECK(c.rank() == 0);
  CHECK(c.size() == 1);
  CHECK(c.shard(3) == std::vector<size_t>{0, 1, 2});
  c.fail_together("");
  CHECK_THROWS_WITH_AS(c.fail_together("classifier did not converge"), doctest::Contains("test: classifier did not converge"), Error);
}

}  // TEST_SUITE
