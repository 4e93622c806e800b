#pragma once
/// Colormaps for attribution pictures, computed in code (no data files):
///   bwr, seismic      diverging (matplotlib's linear segments): blue for negative, white at the
///                     centre, red for positive - for signed maps
///   inferno, viridis  perceptually uniform sequential maps (van der Walt & Smith 2015) with
///                     monotonically increasing luminance - for magnitudes
/// Colours are RGB in [0,1]; the position t is in [0,1] (0.5 is the centre of a diverging map).
#include <array>
#include <string>
#include <string_view>

namespace backlight::cli {

enum class Colormap { Bwr, Seismic, Inferno, Viridis };

using Rgb = std::array<float, 3>;

/// "bwr" -> Colormap::Bwr, ...; throws backlight::Error listing the accepted names.
Colormap colormap_from_string(std::string_view name);
std::string to_string(Colormap map);
/// "bwr, seismic, inferno, viridis" (for usage messages).
std::string colormap_names();

/// Whether the map is diverging (white at t = 0.5), i.e. meant for signed values.
bool is_diverging(Colormap map);

/// The colour at t in [0,1] (clamped; NaN gives the colour at 0.5 for diverging maps and at 0
/// otherwise). bwr and seismic are matplotlib's segment data exactly; inferno and viridis
/// interpolate linearly between 33 of matplotlib's published 256 entries (every 8th and the
/// last), within 0.007 of the full table (2/255 in 8-bit).
Rgb colormap_color(Colormap map, float t);

/// Relative luminance 0.2126 R + 0.7152 G + 0.0722 B (Rec. 709 weights on the RGB values).
float luminance(const Rgb& rgb);

}  // namespace backlight::cli
