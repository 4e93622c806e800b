#pragma once
/// Checks on the files the CLI reads and writes, made before any work starts, so a run fails
/// early with a message that says what the path is and why it cannot be used (instead of "no
/// such file" for a directory, or a filesystem error after minutes of work). Every failure
/// throws backlight::Error "<what>: ..." naming the path; `what` names the caller or flag
/// ("load_image", "explain: --out").
#include <string>
#include <string_view>

namespace backlight::cli {

/// Why `path` cannot be read as a file: "" when it is a readable regular file (or a device/pipe,
/// which can be read), else "no such file", "is a directory, expected a file", "is a broken
/// symbolic link (to 'x')", "is not a regular file" or the errno text.
std::string unreadable_reason(const std::string& path);

/// Throws "<what>: cannot read '<path>': <unreadable_reason>" unless the reason is empty.
void check_input_file(const std::string& path, std::string_view what);

/// check_input_file, then the whole file; read errors name the path and the errno text.
std::string read_file(const std::string& path, std::string_view what);

/// Whether an output FILE can be written at `path`: it is not a directory, and its parent folder
/// exists and is writable, or can be created (the nearest existing ancestor is a writable folder).
/// Existing devices and pipes (/dev/null) are accepted: they are written in place.
void check_output_file(const std::string& path, std::string_view what);

/// Whether `path` can be an output FOLDER: an existing writable folder, or creatable (the nearest
/// existing ancestor is a writable folder). An existing file there is refused.
void check_output_dir(const std::string& path, std::string_view what);

}  // namespace backlight::cli
