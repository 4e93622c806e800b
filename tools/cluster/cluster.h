#pragma once
/// The processes of one job. Dataset-level commands (`explain --images`, ...) run as one job over
/// many processes and machines when launched by `mpirun -n N backlight ...` or `srun backlight ...`:
/// each process (rank) takes its share of the items and the results meet on rank 0.
///
/// Open MPI does the work when it is compiled in (-DBACKLIGHT_MPI, docs/cluster.md) and the process
/// was started by a launcher; otherwise the job is one process: rank 0 of 1, and every collective
/// returns its input. MPI is initialised only when a launcher started the process, so single runs
/// never pay for it. One Cluster per command run (it owns MPI_Init/MPI_Finalize): no global state.
///
/// Every MPI call is checked (the error handler is set to return codes, not to abort); a failed
/// call throws backlight::Error naming the call and this rank. A rank that dies makes mpirun end the
/// whole job with a non-zero status naming that rank: collectives never wait forever for it.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attribution/core/reducer.h"

namespace backlight::cli {

/// A Reducer (attribution/core/reducer.h), so library scans (dissect, layer_similarity) can shard
/// their batches and combine their statistics over the job's processes.
class Cluster : public Reducer {
 public:
  /// Joins the job (MPI_Init_thread when launched under mpirun/srun with MPI compiled in).
  /// `command` names the command in error messages.
  explicit Cluster(std::string command);
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  /// MPI_Finalize when this object initialised MPI.
  ~Cluster() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  bool distributed() const { return size_ > 1; }
  /// Rank 0 writes summaries and JSON.
  bool leader() const { return rank_ == 0; }
  /// "rank 1 of 4" (or "single process").
  std::string describe() const;

  /// Static sharding: the positions k in [0, n) with k % size == rank (round robin, so neighbours
  /// in a sorted list - often of similar cost - spread over the ranks).
  std::vector<size_t> shard(size_t n) const;

  /// Element-wise sums over all ranks, returned on every rank. Integers (counts) are exact.
  std::vector<int64_t> sum(std::span<const int64_t> values) const override;
  /// Element-wise sums over all ranks, returned on every rank. The order in which floating-point
  /// partial sums meet is MPI's (fixed for a given rank count, not across rank counts): use
  /// gather() and sum in item order where results must not depend on the rank count.
  std::vector<double> sum(std::span<const double> values) const override;
  /// Whether `mine` holds on every rank.
  bool all(bool mine) const;
  /// Every rank's string, in rank order, on every rank.
  std::vector<std::string> all_gather(const std::string& mine) const override;
  /// Every rank's string, in rank order, on rank 0 (empty on the other ranks).
  std::vector<std::string> gather(const std::string& mine) const override;
  /// Waits until every rank is here.
  void barrier() const;
  /// Every rank passes what went wrong in its share ("" when nothing did); when some rank failed,
  /// every rank throws one Error with the lowest failing rank's message ("<command>: rank 1 of 2:
  /// ..."). Call it after work that can fail on one rank only and before the next collective, so
  /// no rank waits there for one that left.
  void fail_together(const std::string& error) const;

 private:
  std::string command_;
  int rank_ = 0, size_ = 1;
  bool initialised_ = false;  // this object called MPI_Init
};

/// Whether Open MPI is compiled into this binary, and its version ("Open MPI v4.1.4"), or
/// "not compiled in".
bool mpi_compiled();
std::string mpi_library_version();
/// Whether this process was started by an MPI launcher (mpirun, srun with PMI/PMIx), and the job
/// size the launcher announced (1 when not launched): what `backlight info` reports without
/// initialising MPI.
bool launched_by_mpi();
int launched_size();

}  // namespace backlight::cli
