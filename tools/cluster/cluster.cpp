#include "tools/cluster/cluster.h"

#include <cstdlib>
#include <string_view>

#include "engine/error.h"

#ifdef BACKLIGHT_HAVE_MPI
#include <mpi.h>
#endif

namespace backlight::cli {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

#ifdef BACKLIGHT_HAVE_MPI
// Throws naming the MPI call, the command and the rank when `rc` is not MPI_SUCCESS.
void check(int rc, std::string_view call, const std::string& command, int rank) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(command + ": " + std::string(call) + " failed on rank " + std::to_string(rank) + ": " +
              std::string(text, static_cast<size_t>(length)));
}
#endif

}  // namespace

bool mpi_compiled() {
#ifdef BACKLIGHT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::string mpi_library_version() {
#ifdef BACKLIGHT_HAVE_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);  // callable before MPI_Init
  std::string s(text, static_cast<size_t>(length));
  if (const size_t comma = s.find(','); comma != std::string::npos) s.resize(comma);  // "Open MPI v4.1.4"
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
#else
  return "not compiled in";
#endif
}

bool launched_by_mpi() {
  // mpirun (Open MPI), PMIx launchers (srun --mpi=pmix, prterun), PMI-1/2 launchers.
  return env("OMPI_COMM_WORLD_SIZE") || env("PMIX_RANK") || env("PMI_RANK");
}

int launched_size() {
  if (!launched_by_mpi()) return 1;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    if (const char* v = env(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

Cluster::Cluster(std::string command) : command_(std::move(command)) {
#ifdef BACKLIGHT_HAVE_MPI
  if (!launched_by_mpi()) return;
  int already = 0;
  MPI_Initialized(&already);
  BL_CHECK(!already, command_, ": MPI is already initialised (one Cluster per process)");
  int provided = 0;
  // Only the calling thread makes MPI calls; worker threads never do.
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw Error(command_ + ": MPI_Init_thread failed (started by an MPI launcher: OMPI_COMM_WORLD_SIZE, PMIX_RANK "
                           "or PMI_RANK is set)");
  initialised_ = true;
  // Errors come back as codes (checked and thrown below) instead of aborting the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank", command_, -1);
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size", command_, rank_);
#else
  if (launched_by_mpi() && launched_size() > 1)
    throw Error(command_ + ": started by an MPI launcher with " + std::to_string(launched_size()) +
                " processes, but this backlight was built without MPI (-DBACKLIGHT_MPI=OFF or no libopenmpi-dev): "
                "every process would redo the whole job. Rebuild with Open MPI, or run it as one process");
#endif
}

Cluster::~Cluster() {
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_) MPI_Finalize();
#endif
}

std::string Cluster::describe() const {
  if (size_ == 1) return "single process";
  return "rank " + std::to_string(rank_) + " of " + std::to_string(size_);
}

std::vector<size_t> Cluster::shard(size_t n) const {
  std::vector<size_t> mine;
  for (size_t k = static_cast<size_t>(rank_); k < n; k += static_cast<size_t>(size_)) mine.push_back(k);
  return mine;
}

std::vector<int64_t> Cluster::sum(std::span<const int64_t> values) const {
  std::vector<int64_t> out(values.begin(), values.end());
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_ && !values.empty())
    check(MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce", command_, rank_);
#endif
  return out;
}

std::vector<double> Cluster::sum(std::span<const double> values) const {
  std::vector<double> out(values.begin(), values.end());
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_ && !values.empty())
    check(MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce", command_, rank_);
#endif
  return out;
}

bool Cluster::all(bool mine) const {
  const int64_t v = mine ? 0 : 1;
  return sum(std::span<const int64_t>(&v, 1))[0] == 0;
}

namespace {

#ifdef BACKLIGHT_HAVE_MPI
// Lengths and displacements for a gather of per-rank strings.
std::vector<std::string> split(const std::vector<int>& lengths, const std::string& all) {
  std::vector<std::string> out;
  size_t offset = 0;
  for (int n : lengths) {
    out.push_back(all.substr(offset, static_cast<size_t>(n)));
    offset += static_cast<size_t>(n);
  }
  return out;
}

std::vector<int> displacements(const std::vector<int>& lengths, size_t& total) {
  std::vector<int> d(lengths.size());
  total = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    d[r] = static_cast<int>(total);
    total += static_cast<size_t>(lengths[r]);
  }
  return d;
}
#endif

}  // namespace

std::vector<std::string> Cluster::all_gather(const std::string& mine) const {
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_) {
    BL_CHECK(mine.size() < (1u << 31), command_, ": a rank's result of ", mine.size(), " bytes exceeds 2 GiB");
    const int n = static_cast<int>(mine.size());
    std::vector<int> lengths(static_cast<size_t>(size_));
    check(MPI_Allgather(&n, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather", command_, rank_);
    size_t total = 0;
    const std::vector<int> displ = displacements(lengths, total);
    BL_CHECK(total < (1u << 31), command_, ": gathered results of ", total, " bytes exceed 2 GiB");
    std::string all(total, '\0');
    check(MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), lengths.data(), displ.data(), MPI_CHAR, MPI_COMM_WORLD),
          "MPI_Allgatherv", command_, rank_);
    return split(lengths, all);
  }
#endif
  return {mine};
}

std::vector<std::string> Cluster::gather(const std::string& mine) const {
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_) {
    BL_CHECK(mine.size() < (1u << 31), command_, ": a rank's result of ", mine.size(), " bytes exceeds 2 GiB");
    const int n = static_cast<int>(mine.size());
    std::vector<int> lengths(static_cast<size_t>(size_));
    check(MPI_Gather(&n, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather", command_, rank_);
    size_t total = 0;
    const std::vector<int> displ = displacements(lengths, total);
    BL_CHECK(total < (1u << 31), command_, ": gathered results of ", total, " bytes exceed 2 GiB");
    std::string all(rank_ == 0 ? total : 0, '\0');
    check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), lengths.data(), displ.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Gatherv", command_, rank_);
    if (rank_ != 0) return {};
    return split(lengths, all);
  }
#endif
  return {mine};
}

void Cluster::fail_together(const std::string& error) const {
  const std::vector<std::string> all = all_gather(error);
  for (size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty()) {
      const std::string who = size_ > 1 ? "rank " + std::to_string(r) + " of " + std::to_string(size_) + ": " : "";
      throw Error(command_ + ": " + who + all[r]);
    }
}

void Cluster::barrier() const {
#ifdef BACKLIGHT_HAVE_MPI
  if (initialised_) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier", command_, rank_);
#endif
}

}  // namespace backlight::cli
