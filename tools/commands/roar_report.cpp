#include "tools/commands/roar_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "engine/error.h"
#include "render/line_chart.h"

namespace backlight::cli {

namespace {

nlohmann::json stats(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
  return {{"mean", mean}, {"std", sd}, {"accuracies", v}};
}

std::string cell(const nlohmann::json& p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f +- %.3f", p["mean"].get<double>(), p["std"].get<double>());
  return buf;
}

}  // namespace

nlohmann::json roar_curves(const std::vector<RoarResult>& results, const std::vector<std::string>& modes,
                           const std::vector<std::string>& methods, const std::vector<int>& percents,
                           const std::vector<uint64_t>& seeds) {
  std::map<std::string, double> by_key;
  for (const RoarResult& r : results) by_key[r.task.key()] = r.outcome.test_accuracy;
  const auto accuracies = [&](RoarTask t) {
    std::vector<double> v;
    for (uint64_t s : seeds) {
      t.seed = s;
      const auto it = by_key.find(t.key());
      BL_CHECK(it != by_key.end(), "roar: no result for ", t.key());
      v.push_back(it->second);
    }
    return v;
  };
  nlohmann::json j;
  j["unmodified"] = stats(accuracies(RoarTask{.mode = "none"}));
  j["curves"] = nlohmann::json::array();
  for (const std::string& mode : modes)
    for (const std::string& method : methods) {
      nlohmann::json points = nlohmann::json::array();
      for (int p : percents) {
        nlohmann::json s = stats(accuracies(RoarTask{.mode = mode, .method = method, .percent = p}));
        s["percent"] = p;
        s["fraction"] = p / 100.0;
        points.push_back(s);
      }
      j["curves"].push_back({{"mode", mode}, {"method", method}, {"points", points}});
    }
  return j;
}

std::string roar_table(const nlohmann::json& curves) {
  const nlohmann::json& first = curves["curves"].at(0)["points"];
  std::string s = "| mode | method | unmodified |";
  std::string rule = "|---|---|---|";
  for (const auto& p : first) s += " " + std::to_string(p["percent"].get<int>()) + "% |", rule += "---|";
  s += "\n" + rule + "\n";
  for (const auto& c : curves["curves"]) {
    s += "| " + c["mode"].get<std::string>() + " | " + c["method"].get<std::string>() + " | " +
         cell(curves["unmodified"]) + " |";
    for (const auto& p : c["points"]) s += " " + cell(p) + " |";
    s += "\n";
  }
  return s;
}

Tensor roar_chart(const nlohmann::json& curves, const std::string& data_name) {
  std::vector<std::string> modes;
  for (const auto& c : curves["curves"])
    if (std::find(modes.begin(), modes.end(), c["mode"].get<std::string>()) == modes.end())
      modes.push_back(c["mode"].get<std::string>());
  std::vector<Tensor> charts;
  const nlohmann::json& base = curves["unmodified"];
  for (const std::string& mode : modes) {
    LineChartOptions o;
    o.title = (mode == "roar" ? "ROAR: top pixels removed, retrained" : "KAR: only top pixels kept, retrained") +
              std::string("\n") + data_name + "; test accuracy, +- 1 sd over seeds";
    o.x_label = mode == "roar" ? "fraction of pixels removed" : "fraction of pixels kept";
    o.x_format = "%.1f";
    // The unmodified model is every pixel present: fraction 0 removed (ROAR), fraction 1 kept (KAR).
    const bool keep = mode == "kar";
    std::vector<LineSeries> series;
    for (const auto& c : curves["curves"]) {
      if (c["mode"] != mode) continue;
      LineSeries s{.name = c["method"].get<std::string>(), .y = {}, .error = {}};
      const bool first = o.x.empty();
      const auto add = [&](double x, const nlohmann::json& p) {
        if (first) o.x.push_back(x);
        s.y.push_back(p["mean"].get<double>());
        s.error.push_back(p["std"].get<double>());
      };
      if (!keep) add(0.0, base);
      for (const auto& p : c["points"]) add(p["fraction"].get<double>(), p);
      if (keep) add(1.0, base);
      series.push_back(std::move(s));
    }
    charts.push_back(line_chart(series, o));
  }
  int64_t h = 0, w = 0;
  for (const Tensor& c : charts) h = std::max(h, c.size(1)), w += c.size(2);
  Tensor out = Tensor::full(Shape{3, h, w}, 1.0f);
  int64_t x0 = 0;
  for (const Tensor& c : charts) {
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < c.size(1); ++y)
        std::copy(c.data() + (ch * c.size(1) + y) * c.size(2), c.data() + (ch * c.size(1) + y + 1) * c.size(2),
                  out.data() + (ch * h + y) * w + x0);
    x0 += c.size(2);
  }
  return out;
}

}  // namespace backlight::cli
