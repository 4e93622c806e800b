#pragma once
/// The inputs and outputs of a batch run (`backlight explain --images DIR`): which files in a
/// folder are images, and the output name of each.
#include <string>
#include <vector>

namespace backlight::cli {

/// Whether the path ends in .png, .jpg, .jpeg or .bmp (any letter case): the formats load_image
/// reads.
bool has_image_extension(const std::string& path);

/// Every entry directly in `dir` whose name has an image extension, sorted by file name (byte
/// order). Entries that cannot be images - a folder named "x.png", a broken symbolic link - are
/// listed too, so the batch run reports them (load_image names what they are) and counts them
/// as failed instead of leaving them out silently. Throws backlight::Error naming the folder
/// when it does not exist or is not a folder.
std::vector<std::string> list_images(const std::string& dir);

/// One output stem per input path: the file name without its extension ("cat" for
/// "a/cat.png"); when several inputs share a stem the later ones get "-2", "-3", ... in input
/// order ("cat", "cat-2"), so outputs never overwrite each other.
std::vector<std::string> output_stems(const std::vector<std::string>& paths);

}  // namespace backlight::cli
