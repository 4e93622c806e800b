// Image files: PNG round trip, grey to RGB, error texts.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <span>
#include <string>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"
#include "io/jpeg_check.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::TempDir;

TEST_SUITE("io") {

TEST_CASE("image_io: PNG round trip is exact to 8 bits, no resizing") {
  TempDir dir("image_io");
  Tensor img = Tensor::empty({3, 5, 7});
  for (int64_t i = 0; i < img.numel(); ++i) img.data()[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  const std::string p = dir.file("sub/dir/rgb.png");  // parents are created
  write_png(p, img);
  const Tensor back = load_image(p);
  REQUIRE(back.shape() == Shape{3, 5, 7});
  for (int64_t i = 0; i < img.numel(); ++i) CHECK(back.data()[i] == doctest::Approx(img.data()[i]).epsilon(1e-6));
}

TEST_CASE("image_io: grey images load as three equal channels; values are clipped") {
  TempDir dir("image_io");
  const std::string p = dir.file("grey.png");
  write_png(p, Tensor::from({2, 2}, {-1.0f, 0.0f, 0.5f, 7.0f}));
  const Tensor back = load_image(p);
  REQUIRE(back.shape() == Shape{3, 2, 2});
  for (int c = 0; c < 3; ++c) {
    CHECK(back.at({c, 0, 0}) == 0.0f);
    CHECK(back.at({c, 1, 0}) == doctest::Approx(128.0f / 255.0f));
    CHECK(back.at({c, 1, 1}) == 1.0f);
  }
}

TEST_CASE("image_io: errors name the path and the reason") {
  TempDir dir("image_io");
  CHECK_THROWS_WITH_AS(load_image(dir.file("none.png")), doctest::Contains("none.png': no such file"), Error);
  const std::string junk = dir.file("junk.png");
  backlight::test::write_bytes(junk, "definitely not an image");
  const std::string expected = "cannot decode '" + junk + "' (expected PNG, JPEG or BMP)";
  CHECK_THROWS_WITH_AS(load_image(junk), doctest::Contains(expected.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_png(dir.file("x.png"), Tensor::zeros({2, 4, 4})), doctest::Contains("expected an image [3,H,W]"),
                       Error);
}

TEST_CASE("image_io: write_image picks the format by extension and refuses others") {
  TempDir dir("image_io");
  const Tensor img = Tensor::full({3, 6, 8}, 0.25f);
  write_image(dir.file("a.jpg"), img);
  write_image(dir.file("a.JPEG"), img);
  write_image(dir.file("a.bmp"), img);
  write_image(dir.file("a.png"), img);
  CHECK(backlight::test::read_bytes(dir.file("a.jpg")).substr(0, 3) == "\xFF\xD8\xFF");
  CHECK(backlight::test::read_bytes(dir.file("a.JPEG")).substr(0, 3) == "\xFF\xD8\xFF");
  CHECK(backlight::test::read_bytes(dir.file("a.bmp")).substr(0, 2) == "BM");
  CHECK(backlight::test::read_bytes(dir.file("a.png")).substr(1, 3) == "PNG");
  for (const char* name : {"a.jpg", "a.bmp", "a.png"}) {
    const Tensor back = load_image(dir.file(name));
    REQUIRE(back.shape() == Shape{3, 6, 8});
    CHECK(back.at({1, 3, 3}) == doctest::Approx(0.25f).epsilon(0.02));
  }
  CHECK_THROWS_WITH_AS(write_image(dir.file("a.gif"), img), doctest::Contains("accepted: PNG (.png), JPEG"), Error);
  CHECK_FALSE(std::filesystem::exists(dir.file("a.gif")));
  CHECK(image_format_for("x/y.Bmp") == ImageFormat::Bmp);
  CHECK_FALSE(image_format_for("x/png").has_value());
}

TEST_CASE("image_io: the pixel cap refuses a huge claimed size before decoding") {
  // A PNG header claiming 16000 x 16000 (768 MB decoded) followed by junk: refused from the header.
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\x0dIHDR", 8) + std::string("\0\0\x3e\x80\0\0\x3e\x80\x08\x02\0\0\0", 13);
  png += "crc!junk junk junk";
  const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char*>(png.data()), png.size());
  CHECK_THROWS_WITH_AS(decode_image(bytes, "huge.png"),
                       doctest::Contains("'huge.png' is 16000x16000 (256000000 pixels), more than the limit of "
                                         "50000000 decoded pixels (--max-pixels N raises it)"),
                       Error);
  CHECK_THROWS_WITH_AS(decode_image(bytes, "huge.png", 1000), doctest::Contains("limit of 1000"), Error);
  // Under a raised cap the same bytes get as far as the decoder (which finds the junk).
  CHECK_THROWS_WITH_AS(decode_image(bytes, "huge.png", int64_t{1} << 40), doctest::Contains("cannot decode"), Error);
  // A real small image passes the default cap and fails a tighter one.
  TempDir dir("image_io");
  write_png(dir.file("s.png"), Tensor::zeros({3, 10, 10}));
  CHECK(load_image(dir.file("s.png")).shape() == Shape{3, 10, 10});
  CHECK_THROWS_WITH_AS(load_image(dir.file("s.png"), 99), doctest::Contains("is 10x10 (100 pixels)"), Error);
}

TEST_CASE("image_io: a JPEG Huffman table with more than 256 codes is refused before stb_image") {
  // Found by tools/fuzz/fuzz_image: stb_image 2.27 writes past its size list for such a table.
  std::string jpeg = "\xFF\xD8";
  std::string dht = std::string("\xFF\xC4\x00\x13\x00", 5) + std::string(16, '\x11');  // 16 x 17 = 272 codes
  jpeg += dht + std::string(300, '\x01') + "\xFF\xD9";
  const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size());
  CHECK(bad_jpeg_huffman_table(bytes) == "Huffman table at byte 6 has 272 codes (at most 256)");
  // stb_image skips 0xFF fill bytes before the start marker; so does the check.
  const std::string filled = "\xFF\xFF\xFF" + jpeg;
  CHECK(bad_jpeg_huffman_table({reinterpret_cast<const unsigned char*>(filled.data()), filled.size()}) ==
        "Huffman table at byte 9 has 272 codes (at most 256)");
  CHECK_THROWS_WITH_AS(decode_image(bytes, "bad.jpg"), doctest::Contains("'bad.jpg' (corrupt JPEG): Huffman table"),
                       Error);
  // Real JPEGs pass the check (their tables have at most 256 codes).
  TempDir dir("image_io");
  write_image(dir.file("ok.jpg"), Tensor::full({3, 16, 16}, 0.5f));
  const std::string ok = backlight::test::read_bytes(dir.file("ok.jpg"));
  CHECK(bad_jpeg_huffman_table({reinterpret_cast<const unsigned char*>(ok.data()), ok.size()}).empty());
}

TEST_CASE("image_io: a directory or a broken link says what it is") {
  TempDir dir("image_io");
  std::filesystem::create_directories(dir.file("d.png"));
  CHECK_THROWS_WITH_AS(load_image(dir.file("d.png")), doctest::Contains("d.png': is a directory, expected a file"),
                       Error);
  std::filesystem::create_symlink(dir.file("gone.png"), dir.file("l.png"));
  CHECK_THROWS_WITH_AS(load_image(dir.file("l.png")), doctest::Contains("l.png': is a broken symbolic link"), Error);
}

}  // TEST_SUITE
