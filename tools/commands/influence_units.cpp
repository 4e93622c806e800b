#include "tools/commands/influence_units.h"

#include <algorithm>

#include "engine/error.h"
#include "tools/cluster/unit_cache.h"

namespace backlight::cli {

std::vector<std::vector<int64_t>> influence_waves(const std::vector<int64_t>& pending, bool resumable) {
  std::vector<std::vector<int64_t>> waves;
  if (pending.empty()) return waves;
  const size_t count = resumable ? std::min(kInfluenceWaves, pending.size()) : 1;
  size_t at = 0;
  for (size_t w = 0; w < count; ++w) {
    const size_t size = (pending.size() - at) / (count - w);  // the remainder spread over the last waves
    waves.emplace_back(pending.begin() + static_cast<std::ptrdiff_t>(at),
                       pending.begin() + static_cast<std::ptrdiff_t>(at + size));
    at += size;
  }
  return waves;
}

std::string influence_job_digest(std::span<const CheckpointInfo> checkpoints, std::span<const std::string> tests) {
  std::vector<std::string> names;
  for (const CheckpointInfo& c : checkpoints) names.push_back(c.path.string());
  names.insert(names.end(), tests.begin(), tests.end());
  return files_digest(names);
}

std::string influence_batch_key(const std::string& job_digest, int64_t b, std::span<const std::string> example_names) {
  std::vector<std::string> names{job_digest};
  names.insert(names.end(), example_names.begin(), example_names.end());
  return "batch-" + std::to_string(b) + "-" + files_digest(names);
}

void pack_ranked(Packer& p, const Ranked& r) {
  p.put_span(std::span<const int64_t>(r.indices));
  p.put_span(std::span<const float>(r.scores));
}

Ranked unpack_ranked(Unpacker& u) {
  Ranked r;
  r.indices = u.get_vector<int64_t>();
  r.scores = u.get_vector<float>();
  BL_CHECK(r.indices.size() == r.scores.size(), "influence: a ranking of ", r.indices.size(), " examples has ",
           r.scores.size(), " scores");
  return r;
}

std::string pack_batch_ranking(const BatchRanking& r) {
  Packer p;
  p.put<uint64_t>(r.size());
  for (const auto& [pro, opp] : r) pack_ranked(p, pro), pack_ranked(p, opp);
  return p.take();
}

std::optional<BatchRanking> unpack_batch_ranking(const std::string& bytes, int64_t tests, int64_t top, int64_t begin,
                                                 int64_t end) {
  try {
    Unpacker u(bytes, "influence: cached batch");
    if (u.get<uint64_t>() != static_cast<uint64_t>(tests)) return std::nullopt;
    BatchRanking r;
    const auto fits = [&](const Ranked& x) {
      if (static_cast<int64_t>(x.indices.size()) > top) return false;
      return std::all_of(x.indices.begin(), x.indices.end(), [&](int64_t i) { return i >= begin && i < end; });
    };
    for (int64_t t = 0; t < tests; ++t) {
      Ranked pro = unpack_ranked(u);
      Ranked opp = unpack_ranked(u);
      if (!fits(pro) || !fits(opp)) return std::nullopt;
      r.emplace_back(std::move(pro), std::move(opp));
    }
    if (!u.done()) return std::nullopt;
    return r;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string pack_batch_self(std::span<const float> values) {
  Packer p;
  p.put_span(values);
  return p.take();
}

std::optional<std::vector<float>> unpack_batch_self(const std::string& bytes, int64_t count) {
  try {
    Unpacker u(bytes, "influence: cached batch");
    std::vector<float> v = u.get_vector<float>();
    if (!u.done() || static_cast<int64_t>(v.size()) != count) return std::nullopt;
    return v;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace backlight::cli
