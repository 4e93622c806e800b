// Batch inputs: which files of a folder are images, in which order, and their output names.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "tools/cli/image_list.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::TempDir;

TEST_SUITE("cli") {

TEST_CASE("image_list/list_images: image extensions only, any case, sorted by file name") {
  TempDir dir("image_list");
  for (const char* name : {"b.png", "a.JPG", "c.jpeg", "d.bmp", "notes.txt", "e.gif", "z.Png"})
    backlight::test::write_bytes(dir.file(name), "x");
  // A folder and a broken link with image names are listed, so the run reports and counts them.
  std::filesystem::create_directories(dir.file("sub.png"));
  std::filesystem::create_symlink(dir.file("gone.png"), dir.file("link.bmp"));
  std::vector<std::string> names;
  for (const std::string& p : list_images(dir.file(""))) names.push_back(std::filesystem::path(p).filename().string());
  CHECK(names == std::vector<std::string>{"a.JPG", "b.png", "c.jpeg", "d.bmp", "link.bmp", "sub.png", "z.Png"});
  CHECK_THROWS_WITH_AS(list_images(dir.file("missing")), doctest::Contains("is not a folder"), Error);
  CHECK(has_image_extension("x/y.JPEG"));
  CHECK_FALSE(has_image_extension("x/png"));
}

TEST_CASE("image_list/output_stems: file stems, repeated ones numbered in input order") {
  CHECK(output_stems({"a/cat.png", "b/cat.jpg", "dog.bmp", "c/cat.png"}) ==
        std::vector<std::string>{"cat", "cat-2", "dog", "cat-3"});
  CHECK(output_stems({"x/cat-2.png", "cat.png", "cat.jpg"}) == std::vector<std::string>{"cat-2", "cat", "cat-3"});
}

}  // TEST_SUITE
