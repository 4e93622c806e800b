#include "tools/cluster/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/error.h"

namespace backlight::cli {

namespace fs = std::filesystem;

uint64_t fnv1a64(std::string_view bytes, uint64_t hash) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

namespace {

std::string hex(uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

// FNV-1a of a file's bytes, streamed; nullopt when it cannot be read.
std::optional<uint64_t> file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  uint64_t h = 0xcbf29ce484222325ull;
  std::string buffer(1 << 16, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h = fnv1a64(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())), h);
  }
  if (in.bad()) return std::nullopt;
  return h;
}

}  // namespace

std::optional<nlohmann::json> file_identity(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return nlohmann::json{{"size", static_cast<int64_t>(st.st_size)}, {"mtime_ns", mtime_ns}};
}

std::string args_fingerprint(const Args& args, std::span<const std::string_view> ignored) {
  std::ostringstream canonical;
  canonical << args.command() << '\n';
  std::vector<const FlagSpec*> specs;
  for (const FlagSpec& s : args.specs()) specs.push_back(&s);
  std::sort(specs.begin(), specs.end(), [](const FlagSpec* a, const FlagSpec* b) { return a->name < b->name; });
  for (const FlagSpec* s : specs) {
    if (std::find(ignored.begin(), ignored.end(), s->name) != ignored.end() || !args.has(s->name)) continue;
    canonical << "--" << s->name;
    for (const std::string& v : args.get_all(s->name)) {
      canonical << '\x1f' << v;
      if (const auto id = file_identity(v)) canonical << '\x1e' << id->dump();  // a file: its identity too
    }
    canonical << '\n';
  }
  return hex(fnv1a64(canonical.str()));
}

Manifest::Manifest(const std::string& out_dir, std::string fingerprint, int rank)
    : folder_(out_dir + "/.backlight-manifest"), fingerprint_(std::move(fingerprint)), rank_(rank) {
  std::error_code ec;
  fs::create_directories(folder_, ec);
  BL_CHECK(!ec, "cannot create the resume manifest folder '", folder_, "': ", ec.message());
  file_ = folder_ + "/rank" + std::to_string(rank_) + ".jsonl";

  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder_, ec))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  // Every event of every rank's file, in the order they happened: by their wall-clock time "t"
  // (ranks write their own files, so file order says nothing across files; lines without "t",
  // from older builds, keep their file order at t = 0).
  std::vector<nlohmann::json> events;
  for (const std::string& f : files) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      // A kill mid-write leaves a truncated last line; anything unparsable is skipped.
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || j.value("fingerprint", "") != fingerprint_ || !j.contains("key") || !j["key"].is_string())
        continue;
      events.push_back(std::move(j));
    }
  }
  const auto time_of = [](const nlohmann::json& j) {
    return j.contains("t") && j["t"].is_number_integer() ? j["t"].get<int64_t>() : int64_t{0};
  };
  std::stable_sort(events.begin(), events.end(),
                   [&](const nlohmann::json& a, const nlohmann::json& b) { return time_of(a) < time_of(b); });
  std::map<std::string, std::pair<int, bool>> state;  // key -> (rank that started it, finished since)
  for (const nlohmann::json& j : events) {
    const std::string key = j["key"];
    const std::string event = j.value("event", "");
    if (event == "start") {
      state[key] = {j.value("rank", -1), false};
    } else if (event == "done") {
      ManifestEntry entry{.key = key, .input = j.value("input", nlohmann::json()), .record = j.value("record", nlohmann::json())};
      bool ok = j.contains("files") && j["files"].is_array();
      if (ok)
        for (const auto& fj : j["files"]) {
          if (!fj.is_object() || !fj.contains("path") || !fj["path"].is_string() || !fj.contains("size") ||
              !fj["size"].is_number_unsigned() || !fj.contains("fnv1a64") || !fj["fnv1a64"].is_string()) {
            ok = false;
            break;
          }
          entry.files.push_back({.path = fj["path"], .size = fj["size"],
                                 .fnv1a64 = std::strtoull(fj["fnv1a64"].get<std::string>().c_str(), nullptr, 16)});
        }
      if (!ok) continue;
      previous_[key] = std::move(entry);  // the latest completion wins
      state[key].second = true;
    }
  }
  for (const auto& [key, s] : state)
    if (!s.second) interrupted_.emplace_back(s.first, key);
}

void Manifest::append(const nlohmann::json& line) {
  nlohmann::json stamped = line;
  stamped["t"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string text = stamped.dump() + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  const int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  BL_CHECK(fd >= 0, "cannot open the resume manifest '", file_, "': ", std::strerror(errno));
  // One write(2) per line: a kill leaves the line whole or truncated, never interleaved.
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int write_errno = errno;
  ::close(fd);
  BL_CHECK(n == static_cast<ssize_t>(text.size()), "cannot write the resume manifest '", file_,
           "': ", n < 0 ? std::strerror(write_errno) : "short write");
}

void Manifest::start(const std::string& key) {
  append({{"event", "start"}, {"key", key}, {"fingerprint", fingerprint_}, {"rank", rank_}});
}

void Manifest::done(const std::string& key, const nlohmann::json& input, std::span<const std::string> paths,
                    const nlohmann::json& record) {
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& p : paths) {
    const auto id = file_identity(p);
    const auto sum = file_checksum(p);
    BL_CHECK(id && sum, "resume manifest: cannot read back the output '", p, "' of '", key, "'");
    files.push_back({{"path", p}, {"size", (*id)["size"].get<uint64_t>()}, {"fnv1a64", hex(*sum)}});
  }
  append({{"event", "done"}, {"key", key},     {"fingerprint", fingerprint_}, {"rank", rank_},
          {"input", input},  {"files", files}, {"record", record}});
}

bool Manifest::intact(const ManifestEntry& entry, const nlohmann::json& input_now, bool checksums) {
  if (entry.input != input_now) return false;
  for (const ManifestFile& f : entry.files) {
    const auto id = file_identity(f.path);
    if (!id || (*id)["size"].get<uint64_t>() != f.size) return false;
    if (checksums) {
      const auto sum = file_checksum(f.path);
      if (!sum || *sum != f.fnv1a64) return false;
    }
  }
  return true;
}

}  // namespace backlight::cli
