#pragma once
/// Limits for JSON that comes from users' files (safetensors headers). nlohmann's parser is
/// iterative, but `dump` and a few other walks recurse once per nesting level, so a header nested
/// 80,000 levels deep would overflow the stack the first time an error message quoted it. Every
/// reader of user JSON therefore (1) rejects nesting deeper than kJsonMaxDepth before parsing and
/// (2) quotes at most kJsonQuoteChars characters of user JSON in a message.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace backlight {

/// Deepest accepted nesting of arrays/objects. A safetensors header needs 3 (header object ->
/// tensor object -> shape array); 64 leaves room for any metadata layout while keeping every
/// recursive walk shallow.
inline constexpr int kJsonMaxDepth = 64;

/// Longest excerpt of user JSON quoted in an error message.
inline constexpr size_t kJsonQuoteChars = 200;

/// Throws backlight::Error ("<ctx>: JSON nests deeper than 64 levels (at byte N)") when `text`
/// opens more than `max_depth` arrays/objects at once. Brackets inside strings do not count. O(n),
/// no allocation; call it before nlohmann::json::parse.
void check_json_depth(std::string_view text, std::string_view ctx, int max_depth = kJsonMaxDepth);

/// `text` cut to `max_chars` with "... (N characters in all)" appended when longer.
std::string truncate_for_message(std::string text, size_t max_chars = kJsonQuoteChars);

/// A short, safe rendering of a parsed user value for an error message: compact dump (invalid
/// UTF-8 replaced, never throws) cut to kJsonQuoteChars. Only for values whose depth was bounded
/// by check_json_depth.
template <class Json>
std::string json_excerpt(const Json& value) {
  return truncate_for_message(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace backlight
