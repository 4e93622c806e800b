#include "tools/commands/resume_units.h"

#include <iostream>

#include "tools/cluster/manifest.h"

namespace backlight::cli {

std::vector<FlagSpec> unit_cache_flags() {
  return {{.name = "cache", .metavar = "DIR",
           .help = "keep finished units here, so a rerun resumes (default: next to --out, OUT.backlight-cache)"},
          {.name = "fresh", .kind = FlagKind::Bool, .help = "ignore units kept by an earlier run (recompute everything)"}};
}

ResumeUnits::ResumeUnits(std::string folder, std::string fingerprint, int rank, bool fresh)
    : folder_(folder), cache_(std::move(folder), std::move(fingerprint), rank, fresh) {}

std::unique_ptr<ResumeUnits> ResumeUnits::open(const Args& args, std::span<const std::string_view> ignored,
                                               const Cluster& cluster) {
  const std::optional<std::string> folder = unit_cache_folder(args);
  if (!folder) return nullptr;
  std::vector<std::string_view> skip{"threads", "json", "out", "cache", "fresh"};
  skip.insert(skip.end(), ignored.begin(), ignored.end());
  auto units = std::make_unique<ResumeUnits>(*folder, args_fingerprint(args, skip), cluster.rank(), args.flag("fresh"));
  const std::vector<std::string> flight = units->cache().interrupted();
  if (cluster.leader() && !flight.empty()) {
    std::cerr << args.command() << ": resuming: an earlier run stopped while computing ";
    for (size_t i = 0; i < flight.size(); ++i) std::cerr << (i ? ", " : "") << flight[i];
    std::cerr << "\n";
  }
  return units;
}

int64_t report_resumed(const Cluster& cluster, const ResumeUnits* units, int64_t units_here, int64_t resumed_here,
                       const std::string& command) {
  const int64_t mine[2] = {units ? units_here : 0, units ? resumed_here : 0};
  const std::vector<int64_t> total = cluster.sum(std::span<const int64_t>(mine, 2));
  if (units && cluster.leader() && total[1] > 0)
    std::cerr << command << ": resuming: " << total[1] << " of " << total[0] << " units from " << units->folder()
              << " (--fresh recomputes them)\n";
  return total[1];
}

}  // namespace backlight::cli
