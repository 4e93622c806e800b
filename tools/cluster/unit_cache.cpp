#include "tools/cluster/unit_cache.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "engine/error.h"
#include "io/atomic_write.h"

namespace backlight::cli {

namespace fs = std::filesystem;

std::optional<std::string> unit_cache_folder(const Args& args, std::string_view out_flag) {
  if (const auto cache = args.get("cache")) return *cache;
  const auto out = args.get(out_flag);
  if (!out || out->empty()) return std::nullopt;
  std::error_code ec;
  const fs::file_status st = fs::status(*out, ec);
  if (fs::is_directory(st)) return *out + "/.backlight-cache";
  if (fs::exists(st) && !fs::is_regular_file(st)) return std::nullopt;  // /dev/null, a pipe: nothing to keep
  for (const FlagSpec& s : args.specs())
    if (s.name == out_flag && s.metavar == "DIR") return *out + "/.backlight-cache";
  return *out + ".backlight-cache";
}

UnitCache::UnitCache(std::string folder, std::string fingerprint, int rank, bool fresh)
    : folder_(std::move(folder)), units_(folder_ + "/" + fingerprint), fresh_(fresh),
      state_(std::make_unique<State>(folder_, std::move(fingerprint), rank)) {
  std::error_code ec;
  fs::create_directories(units_, ec);
  BL_CHECK(!ec, "cannot create the unit cache folder '", units_, "': ", ec.message());
}

std::string UnitCache::path(const std::string& key) const {
  const bool ok = !key.empty() && key[0] != '.' && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
  BL_CHECK(ok, "UnitCache: a unit key is [A-Za-z0-9_.-] and does not start with '.', got '", key, "'");
  return units_ + "/" + key + ".unit";
}

std::optional<std::string> UnitCache::load(const std::string& key) const {
  if (!state_) return std::nullopt;
  const std::string file = path(key);
  if (fresh_) return std::nullopt;
  const auto& previous = state_->manifest.previous();
  const auto it = previous.find(key);
  if (it == previous.end() || it->second.files.size() != 1) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  // A truncated, overwritten or half-copied unit is computed again.
  const ManifestFile& f = it->second.files[0];
  if (bytes.size() != f.size || fnv1a64(bytes) != f.fnv1a64) return std::nullopt;
  ++state_->resumed;
  return bytes;
}

void UnitCache::discard(const std::string& key) {
  if (!state_) return;
  (void)path(key);
  --state_->resumed;
}

void UnitCache::begin(const std::string& key) {
  if (!state_) return;
  (void)path(key);  // the key's check
  state_->manifest.start(key);
}

void UnitCache::store(const std::string& key, std::string_view bytes) {
  if (!state_) return;
  const std::string file = path(key);
  write_file_atomic(file, bytes);
  const std::string files[] = {file};
  state_->manifest.done(key, nlohmann::json(), files, nlohmann::json{{"bytes", bytes.size()}});
}

std::vector<std::string> UnitCache::interrupted() const {
  std::vector<std::string> out;
  if (!state_ || fresh_) return out;
  for (const auto& [rank, key] : state_->manifest.interrupted()) out.push_back("rank " + std::to_string(rank) + ": " + key);
  std::sort(out.begin(), out.end());
  return out;
}

UnitCache open_unit_cache(const Args& args, const Cluster& cluster, std::span<const std::string_view> not_in_fingerprint,
                          std::string_view out_flag) {
  const std::optional<std::string> folder = unit_cache_folder(args, out_flag);
  if (!folder) return UnitCache();
  std::vector<std::string_view> ignored{"cache", "fresh", "threads", "json", out_flag};
  ignored.insert(ignored.end(), not_in_fingerprint.begin(), not_in_fingerprint.end());
  std::string error;
  UnitCache cache;
  try {
    cache = UnitCache(*folder, args_fingerprint(args, ignored), cluster.rank(), args.flag("fresh"));
  } catch (const std::exception& e) {
    error = e.what();
  }
  cluster.fail_together(error);  // also: every rank has read the manifest before any appends to it
  return cache;
}

size_t report_resumed(const UnitCache& cache, const Cluster& cluster, std::string_view command, size_t total_units) {
  const int64_t mine = static_cast<int64_t>(cache.resumed());
  const size_t resumed = static_cast<size_t>(cluster.sum(std::span<const int64_t>(&mine, 1)).at(0));
  if (!cluster.leader() || !cache.enabled()) return resumed;
  for (const std::string& u : cache.interrupted()) {
    const size_t colon = u.find(": ");
    std::cerr << command << ": resuming: an earlier run stopped while " << u.substr(0, colon) << " was computing "
              << u.substr(colon + 2) << "\n";
  }
  if (resumed)
    std::cerr << command << ": resuming: " << resumed << " of " << total_units << " units from " << cache.folder()
              << " (--fresh recomputes them)\n";
  return resumed;
}

std::string files_digest(std::span<const std::string> names) {
  std::string canonical;
  for (const std::string& n : names) {
    canonical += n;
    canonical += '\x1f';
    if (const auto id = file_identity(n)) canonical += id->dump();
    canonical += '\x1e';
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(fnv1a64(canonical)));
  return text;
}

std::vector<FlagSpec> unit_cache_flags() {
  return {{.name = "cache", .metavar = "DIR",
           .help = "keep finished units here and resume from them (default: beside --out; none without --out)"},
          {.name = "fresh", .kind = FlagKind::Bool, .help = "recompute every unit (ignore those of an earlier run)"}};
}

}  // namespace backlight::cli
