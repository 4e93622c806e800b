#include "models/json_limits.h"

#include "engine/error.h"

namespace backlight {

void check_json_depth(std::string_view text, std::string_view ctx, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // skip the escaped character (an escaped quote does not end the string)
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        BL_CHECK(++depth <= max_depth, ctx, ": JSON nests deeper than ", max_depth, " levels (at byte ", i, " of ",
                 text.size(), "); expected a flat header");
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced input is the parser's to report
        break;
      default:
        break;
    }
  }
}

std::string truncate_for_message(std::string text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  const size_t total = text.size();
  // Cut on a UTF-8 character boundary (never inside a multi-byte sequence).
  while (max_chars > 0 && (static_cast<unsigned char>(text[max_chars]) & 0xC0) == 0x80) --max_chars;
  text.resize(max_chars);
  return text + "... (" + std::to_string(total) + " characters in all)";
}

}  // namespace backlight
