#include "io/npy.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

static_assert(std::endian::native == std::endian::little, "npy: '<f4' data is copied as is (little-endian host)");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// This parses exactly that subset: string keys; values are strings, True/False or int tuples.
struct HeaderValue {
  std::string text;              // strings and True/False
  std::optional<std::vector<int64_t>> tuple;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& s, const std::string& path) : s_(s), path_(path) {}

  std::map<std::string, HeaderValue> dict() {
    std::map<std::string, HeaderValue> out;
    expect('{');
    while (true) {
      ws();
      if (peek() == '}') break;
      std::string key = str();
      ws();
      expect(':');
      ws();
      out[key] = value();
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}'");
    }
    return out;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  [[noreturn]] void fail(const char* what) const {
    BL_THROW("load_npy: '", path_, "': malformed header (", what, " at offset ", i_, "): ", s_);
  }
  void expect(char c) {
    ws();
    if (peek() != c) fail((std::string("expected '") + c + "'").c_str());
    ++i_;
  }
  std::string str() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  HeaderValue value() {
    HeaderValue v;
    if (peek() == '\'' || peek() == '"') {
      v.text = str();
    } else if (peek() == '(') {
      ++i_;
      std::vector<int64_t> dims;
      while (true) {
        ws();
        if (peek() == ')') break;
        if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer");
        int64_t d = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
          if (d > (INT64_MAX - 9) / 10) fail("dimension too large");
          d = d * 10 + (s_[i_++] - '0');
        }
        if (peek() == 'L') ++i_;  // Python 2 longs
        dims.push_back(d);
        ws();
        if (peek() == ',') ++i_;
        else if (peek() != ')') fail("expected ',' or ')'");
      }
      ++i_;
      v.tuple = std::move(dims);
    } else {
      while (std::isalpha(static_cast<unsigned char>(peek()))) v.text += s_[i_++];
      if (v.text != "True" && v.text != "False") fail("expected a string, tuple, True or False");
    }
    return v;
  }
  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

}  // namespace

void save_npy(const std::string& path, const Tensor& t) {
  // Python tuple syntax: (), (5,), (2, 3).
  std::string shape = "(";
  for (int d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic(6) + version(2) + length(2) + header + '\n' must be a multiple of 64.
  const size_t unpadded = kMagicLen + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  BL_CHECK(header.size() <= 0xffff, "save_npy: header too long for '", path, "'");

  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    BL_CHECK(!ec, "save_npy: cannot create directory '", p.parent_path().string(), "': ", ec.message());
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  BL_CHECK(f, "save_npy: cannot open '", path, "' for writing: ", std::strerror(errno));
  const unsigned char prefix[4] = {1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                   static_cast<unsigned char>(header.size() >> 8)};
  f.write(kMagic, kMagicLen);
  f.write(reinterpret_cast<const char*>(prefix), 4);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
  f.close();
  BL_CHECK(f, "save_npy: writing '", path, "' failed: ", std::strerror(errno));
}

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  BL_CHECK(std::filesystem::is_regular_file(path, ec), "load_npy: cannot read '", path, "': no such file");
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  BL_CHECK(!ec, "load_npy: cannot read '", path, "': ", ec.message());
  std::ifstream f(path, std::ios::binary);
  BL_CHECK(f, "load_npy: cannot open '", path, "': ", std::strerror(errno));

  char magic[kMagicLen + 2] = {};
  f.read(magic, sizeof magic);
  BL_CHECK(f && std::memcmp(magic, kMagic, kMagicLen) == 0, "load_npy: '", path,
           "' is not a .npy file (expected the magic \\x93NUMPY at the start)");
  const int major = static_cast<unsigned char>(magic[6]), minor = static_cast<unsigned char>(magic[7]);
  BL_CHECK(major >= 1 && major <= 3, "load_npy: '", path, "': unsupported format version ", major, ".", minor,
           " (expected 1.0, 2.0 or 3.0)");
  // v1 stores the header length in 2 bytes, v2/v3 in 4 (little-endian).
  const int len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {};
  f.read(reinterpret_cast<char*>(len_buf), len_bytes);
  BL_CHECK(f, "load_npy: '", path, "': truncated header");
  uint64_t header_len = 0;
  for (int i = len_bytes - 1; i >= 0; --i) header_len = (header_len << 8) | len_buf[i];
  const uint64_t data_offset = kMagicLen + 2 + len_bytes + header_len;
  BL_CHECK(data_offset <= file_size, "load_npy: '", path, "': truncated header (says ", header_len,
           " bytes, file has ", file_size, ")");
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  BL_CHECK(f, "load_npy: '", path, "': truncated header");
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0'))
    header.pop_back();

  const std::map<std::string, HeaderValue> dict = HeaderParser(header, path).dict();
  auto field = [&](const char* key) -> const HeaderValue& {
    auto it = dict.find(key);
    BL_CHECK(it != dict.end(), "load_npy: '", path, "': header has no '", key, "' entry: ", header);
    return it->second;
  };
  const HeaderValue& descr = field("descr");
  BL_CHECK(!descr.tuple && (descr.text == "<f4" || descr.text == "f4"), "load_npy: '", path,
           "': expected dtype '<f4' (float32, little-endian), got '", descr.text, "'");
  const HeaderValue& fortran = field("fortran_order");
  BL_CHECK(fortran.text == "False", "load_npy: '", path, "': expected fortran_order False (C order), got ",
           fortran.text.empty() ? "a non-boolean" : fortran.text);
  const HeaderValue& shape_v = field("shape");
  BL_CHECK(shape_v.tuple, "load_npy: '", path, "': expected 'shape' to be a tuple, got '", shape_v.text, "'");
  const std::vector<int64_t>& dims = *shape_v.tuple;
  BL_CHECK(static_cast<int>(dims.size()) <= Shape::kMaxDims, "load_npy: '", path, "': expected at most ",
           Shape::kMaxDims, " dimensions, got ", dims.size());
  const uint64_t have = file_size - data_offset;
  uint64_t need = sizeof(float);
  bool overflow = false;
  for (int64_t d : dims) overflow |= __builtin_mul_overflow(need, static_cast<uint64_t>(d), &need);
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) need = 0, overflow = false;
  const Shape shape(dims);
  BL_CHECK(!overflow && have == need, "load_npy: '", path, "': shape ", shape, " needs ",
           overflow ? std::string("more than 2^64") : std::to_string(need), " bytes of float32 data, file holds ",
           have);

  Tensor t = Tensor::empty(shape);
  f.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(need));
  BL_CHECK(f, "load_npy: '", path, "': read failed: ", std::strerror(errno));
  return t;
}

}  // namespace backlight::cli
