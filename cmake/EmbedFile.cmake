# Embeds a binary file into a C++ source as a byte array (run with cmake -P at build time):
#   cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -DHEADER=<include> -DFUNCTION=<name> -P EmbedFile.cmake
# The source defines `std::span<const unsigned char> backlight::<FUNCTION>()` (declared in HEADER).
# A missing INPUT gives an empty span, so a checkout without the file still builds.
set(_bytes "")
if(EXISTS "${INPUT}")
  file(READ "${INPUT}" _hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
  # 24 bytes (120 characters) per line keeps the generated file readable for compilers and diffs.
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n" _bytes "${_bytes}")
endif()
if(_bytes STREQUAL "")
  set(_body "std::span<const unsigned char> ${FUNCTION}() { return {}; }  // ${INPUT} was missing\n")
else()
  set(_body "namespace {\nalignas(8) const unsigned char kBytes[] = {\n${_bytes}\n};\n}  // namespace\n\n"
            "std::span<const unsigned char> ${FUNCTION}() { return {kBytes, sizeof(kBytes)}; }\n")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by cmake/EmbedFile.cmake; do not edit.\n"
                           "#include \"${HEADER}\"\n\nnamespace backlight {\n\n${_body}\n}  // namespace backlight\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
