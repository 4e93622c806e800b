#include "render/colormap.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "engine/error.h"

namespace backlight::cli {

namespace {

// Every 8th entry (and entry 255) of matplotlib's _inferno_data / _viridis_data
// (lib/matplotlib/_cm_listed.py; the maps by Stefan van der Walt and Nathaniel Smith, CC0).
constexpr Rgb kInferno[] = {
    {0.001462f, 0.000466f, 0.013866f}, {0.013995f, 0.011225f, 0.071862f}, {0.042253f, 0.028139f, 0.141141f},
    {0.081962f, 0.043328f, 0.215289f}, {0.129285f, 0.047293f, 0.290788f}, {0.183429f, 0.040329f, 0.354971f},
    {0.238273f, 0.036621f, 0.396353f}, {0.290763f, 0.045644f, 0.418637f}, {0.341500f, 0.062325f, 0.429425f},
    {0.391453f, 0.080927f, 0.433109f}, {0.441207f, 0.099338f, 0.431594f}, {0.491022f, 0.117179f, 0.425552f},
    {0.540920f, 0.134729f, 0.415123f}, {0.590734f, 0.152563f, 0.400290f}, {0.640135f, 0.171438f, 0.381065f},
    {0.688653f, 0.192239f, 0.357603f}, {0.735683f, 0.215906f, 0.330245f}, {0.780517f, 0.243327f, 0.299523f},
    {0.822386f, 0.275197f, 0.266085f}, {0.860533f, 0.311892f, 0.230606f}, {0.894305f, 0.353399f, 0.193584f},
    {0.923215f, 0.399359f, 0.155193f}, {0.946965f, 0.449191f, 0.115272f}, {0.965397f, 0.502249f, 0.073859f},
    {0.978422f, 0.557937f, 0.034931f}, {0.985952f, 0.615750f, 0.025592f}, {0.987874f, 0.675267f, 0.065257f},
    {0.984075f, 0.736087f, 0.129527f}, {0.974638f, 0.797692f, 0.206332f}, {0.960626f, 0.859069f, 0.298010f},
    {0.947594f, 0.917399f, 0.410665f}, {0.954529f, 0.965896f, 0.540361f}, {0.988362f, 0.998364f, 0.644924f},
};
constexpr Rgb kViridis[] = {
    {0.267004f, 0.004874f, 0.329415f}, {0.277018f, 0.050344f, 0.375715f}, {0.282327f, 0.094955f, 0.417331f},
    {0.282884f, 0.135920f, 0.453427f}, {0.278826f, 0.175490f, 0.483397f}, {0.270595f, 0.214069f, 0.507052f},
    {0.258965f, 0.251537f, 0.524736f}, {0.244972f, 0.287675f, 0.537260f}, {0.229739f, 0.322361f, 0.545706f},
    {0.214298f, 0.355619f, 0.551184f}, {0.199430f, 0.387607f, 0.554642f}, {0.185556f, 0.418570f, 0.556753f},
    {0.172719f, 0.448791f, 0.557885f}, {0.160665f, 0.478540f, 0.558115f}, {0.149039f, 0.508051f, 0.557250f},
    {0.137770f, 0.537492f, 0.554906f}, {0.127568f, 0.566949f, 0.550556f}, {0.120565f, 0.596422f, 0.543611f},
    {0.120638f, 0.625828f, 0.533488f}, {0.132268f, 0.655014f, 0.519661f}, {0.157851f, 0.683765f, 0.501686f},
    {0.196571f, 0.711827f, 0.479221f}, {0.246070f, 0.738910f, 0.452024f}, {0.304148f, 0.764704f, 0.419943f},
    {0.369214f, 0.788888f, 0.382914f}, {0.440137f, 0.811138f, 0.340967f}, {0.515992f, 0.831158f, 0.294279f},
    {0.595839f, 0.848717f, 0.243329f}, {0.678489f, 0.863742f, 0.189503f}, {0.762373f, 0.876424f, 0.137064f},
    {0.845561f, 0.887322f, 0.099702f}, {0.926106f, 0.897330f, 0.104071f}, {0.993248f, 0.906157f, 0.143936f},
};
// matplotlib's segment data: evenly spaced anchors.
constexpr Rgb kBwr[] = {{0.0f, 0.0f, 1.0f}, {1.0f, 1.0f, 1.0f}, {1.0f, 0.0f, 0.0f}};
constexpr Rgb kSeismic[] = {
    {0.0f, 0.0f, 0.3f}, {0.0f, 0.0f, 1.0f}, {1.0f, 1.0f, 1.0f}, {1.0f, 0.0f, 0.0f}, {0.5f, 0.0f, 0.0f}};

// Sampled tables: entry i sits at i*8/255 (the last at 1). Linear interpolation in between.
Rgb sample_table(std::span<const Rgb> table, float t) {
  const float pos = t * 255.0f / 8.0f;
  const size_t last = table.size() - 1;
  const size_t i = std::min(static_cast<size_t>(pos), last - 1);
  const float x0 = static_cast<float>(i) * 8.0f, x1 = i + 1 == last ? 255.0f : x0 + 8.0f;
  const float a = std::clamp((t * 255.0f - x0) / (x1 - x0), 0.0f, 1.0f);
  const Rgb& lo = table[i];
  const Rgb& hi = table[i + 1];
  return {lo[0] + a * (hi[0] - lo[0]), lo[1] + a * (hi[1] - lo[1]), lo[2] + a * (hi[2] - lo[2])};
}

// Evenly spaced anchors over [0,1].
Rgb sample_even(std::span<const Rgb> anchors, float t) {
  const float pos = t * static_cast<float>(anchors.size() - 1);
  const size_t i = std::min(static_cast<size_t>(pos), anchors.size() - 2);
  const float a = pos - static_cast<float>(i);
  const Rgb& lo = anchors[i];
  const Rgb& hi = anchors[i + 1];
  return {lo[0] + a * (hi[0] - lo[0]), lo[1] + a * (hi[1] - lo[1]), lo[2] + a * (hi[2] - lo[2])};
}

struct Named {
  const char* name;
  Colormap map;
};
constexpr Named kNames[] = {{"bwr", Colormap::Bwr},
                             {"seismic", Colormap::Seismic},
                             {"inferno", Colormap::Inferno},
                             {"viridis", Colormap::Viridis}};

}  // namespace

Colormap colormap_from_string(std::string_view name) {
  for (const Named& n : kNames)
    if (name == n.name) return n.map;
  BL_THROW("unknown colormap '", name, "' (accepted: ", colormap_names(), ")");
}

std::string to_string(Colormap map) {
  for (const Named& n : kNames)
    if (n.map == map) return n.name;
  return "?";
}

std::string colormap_names() {
  std::string s;
  for (const Named& n : kNames) s += (s.empty() ? "" : ", ") + std::string(n.name);
  return s;
}

bool is_diverging(Colormap map) { return map == Colormap::Bwr || map == Colormap::Seismic; }

Rgb colormap_color(Colormap map, float t) {
  if (std::isnan(t)) t = is_diverging(map) ? 0.5f : 0.0f;
  t = std::clamp(t, 0.0f, 1.0f);
  switch (map) {
    case Colormap::Bwr: return sample_even(kBwr, t);
    case Colormap::Seismic: return sample_even(kSeismic, t);
    case Colormap::Inferno: return sample_table(kInferno, t);
    case Colormap::Viridis: return sample_table(kViridis, t);
  }
  return {0.0f, 0.0f, 0.0f};
}

float luminance(const Rgb& rgb) { return 0.2126f * rgb[0] + 0.7152f * rgb[1] + 0.0722f * rgb[2]; }

}  // namespace backlight::cli
