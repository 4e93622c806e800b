#pragma once
/// Per-token attributions of a text model as people read them: an HTML page like Captum's
/// `visualize_text` (captum/attr/_utils/visualization.py: one table row per record, tokens as
/// <mark> spans coloured by attribution) and a PNG of the same rows (tokens as coloured boxes
/// labelled with the built-in 5x8 bitmap font, render/font.h - no font files).
///
/// Colours are Captum's `_get_color`: a score s clipped to [-1, 1]; s > 0 is green
/// hsl(120, 75%, 100 - 50 s %), s <= 0 red hsl(0, 75%, 100 - 40 |s| %). Scores are the
/// attributions divided by the row's largest magnitude (so the strongest token is fully
/// coloured; Captum's tutorials divide by the L2 norm before calling visualize_text).
#include <span>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "render/colormap.h"

namespace backlight::cli {

/// One row: one method's attributions over the tokens.
struct TokenRow {
  std::string label;                ///< e.g. the method name
  std::vector<std::string> tokens;  ///< token strings (or ids as text)
  std::vector<float> attributions;  ///< one per token, raw (normalised when drawn)
};

/// Header of the page: what Captum's table shows beside the tokens.
struct TokenPageInfo {
  std::string title;          ///< e.g. "backlight explain: text_encoder.onnx"
  std::string prediction;     ///< predicted class (and probability when known)
  std::string target;         ///< attributed class
};

/// Captum's `_get_color` for a score (clipped to [-1, 1]), as CSS text "hsl(120, 75%, 75%)".
std::string token_css_color(float score);
/// The same colour as RGB in [0, 1].
Rgb token_rgb(float score);
/// attributions / max |attributions| (all zeros stay zero); NaN is refused by callers.
std::vector<float> normalise_scores(std::span<const float> attributions);

/// A self-contained HTML page (no scripts, no external files): a table with one row per
/// TokenRow (label, attribution sum, tokens coloured by score, each with a tooltip of its raw
/// value) and a legend. Token text is HTML-escaped. Throws when a row's token and attribution
/// counts differ.
std::string token_html(std::span<const TokenRow> rows, const TokenPageInfo& info);

/// The rows as a picture [3, H, W] in [0, 1], `width` pixels wide: per row its label, then the
/// tokens as boxes (text drawn at scale 2, black on the score's colour, grey border) wrapped onto
/// lines, then a legend strip from -1 (red) to +1 (green); the picture widens when a title is longer. Long tokens are cut to 24 characters;
/// characters outside ASCII draw as '?' (the bitmap font has ASCII only).
Tensor token_picture(std::span<const TokenRow> rows, const TokenPageInfo& info, int width = 800);

}  // namespace backlight::cli
