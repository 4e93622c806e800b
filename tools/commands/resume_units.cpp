#include "tools/commands/resume_units.h"

#include <iostream>

namespace backlight::cli {

std::unique_ptr<ResumeUnits> ResumeUnits::open(const Args& args, const Cluster& cluster,
                                               std::span<const std::string_view> not_in_fingerprint) {
  UnitCache cache = open_unit_cache(args, cluster, not_in_fingerprint);
  if (!cache.enabled()) return nullptr;
  return std::make_unique<ResumeUnits>(std::move(cache));
}

std::string ResumeUnits::key(std::string_view kind, int64_t number) const {
  std::string k = UnitStore::key(kind, number);
  if (inputs) {
    const std::vector<std::string> files = inputs(kind, number);
    if (!files.empty()) k += "-" + files_digest(files);
  }
  return k;
}

int64_t report_resumed_units(const Cluster& cluster, const ResumeUnits* units, int64_t units_here,
                             int64_t resumed_here, const std::string& command) {
  const int64_t mine[2] = {units ? units_here : 0, units ? resumed_here : 0};
  const std::vector<int64_t> total = cluster.sum(std::span<const int64_t>(mine, 2));
  if (!units || !cluster.leader()) return total[1];
  for (const std::string& u : units->cache().interrupted()) {
    const size_t colon = u.find(": ");
    std::cerr << command << ": resuming: an earlier run stopped while " << u.substr(0, colon) << " was computing "
              << u.substr(colon + 2) << "\n";
  }
  if (total[1] > 0)
    std::cerr << command << ": resuming: " << total[1] << " of " << total[0] << " units from "
              << units->cache().folder() << " (--fresh recomputes them)\n";
  return total[1];
}

}  // namespace backlight::cli
