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
#include "io/atomic_write.h"
#include "io/file_checks.h"

namespace backlight::cli {

static_assert(std::endian::native == std::endian::little, "npy: '<f4' data is copied as is (little-endian host)");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// At most ~200 characters of untrusted header text in a message (headers may be megabytes).
std::string quoted(const std::string& s) {
  constexpr size_t kMax = 200;
  std::string out = s.size() <= kMax ? s : s.substr(0, kMax) + "... (" + std::to_string(s.size()) + " characters)";
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return out;
}

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
    BL_THROW("load_npy: '", path_, "': malformed header (", what, " at offset ", i_, "): ", quoted(s_));
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

std::string npy_bytes(const Tensor& t) {
  // Python tuple syntax: (), (5,), (2, 3).
  std::string shape = "(";
  for (int d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic(6) + version(2) + length(2) + header + '\n' must be a multiple of 64.
  const size_t unpadded = kMagicLen + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  BL_CHECK(header.size() <= 0xffff, "save_npy: header too long");
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(1);
  out += static_cast<char>(0);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(t.data()), static_cast<size_t>(t.numel()) * sizeof(float));
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  try {
    write_file_atomic(path, npy_bytes(t));
  } catch (const Error& e) {
    BL_THROW("save_npy: ", e.what());
  }
}

namespace {

// The dtypes this reader knows: float32 always, int64/int32 only when `ints` (token ids).
std::optional<NpyDtype> dtype_of(const std::string& d, bool ints) {
  if (d == "<f4" || d == "f4") return NpyDtype::Float32;
  if (ints && (d == "<i8" || d == "i8")) return NpyDtype::Int64;
  if (ints && (d == "<i4" || d == "i4")) return NpyDtype::Int32;
  return std::nullopt;
}

struct ParsedHeader {
  std::vector<int64_t> dims;
  NpyDtype dtype = NpyDtype::Float32;
  uint64_t data_offset = 0;
  uint64_t data_bytes = 0;  // shape-many values of `dtype`
};

// The one header parser (parse_npy, parse_npy_array, read_npy_info): magic, version, dtype
// (float32; int64/int32 too when `ints`), order, shape, and that the file holds exactly
// shape-many values. `bytes` holds at least the header; `file_size` is the whole file's size.
ParsedHeader parse_header(std::span<const unsigned char> bytes, uint64_t file_size, const std::string& path,
                          bool ints) {
  BL_CHECK(file_size >= kMagicLen + 2 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0, "load_npy: '", path,
           "' is not a .npy file (expected the magic \\x93NUMPY at the start)");
  const int major = bytes[6], minor = bytes[7];
  BL_CHECK(major >= 1 && major <= 3, "load_npy: '", path, "': unsupported format version ", major, ".", minor,
           " (expected 1.0, 2.0 or 3.0)");
  // v1 stores the header length in 2 bytes, v2/v3 in 4 (little-endian).
  const size_t len_bytes = major == 1 ? 2 : 4;
  BL_CHECK(file_size >= kMagicLen + 2 + len_bytes, "load_npy: '", path, "': truncated header");
  uint64_t header_len = 0;
  for (size_t i = len_bytes; i-- > 0;) header_len = (header_len << 8) | bytes[kMagicLen + 2 + i];
  const uint64_t data_offset = kMagicLen + 2 + len_bytes + header_len;
  BL_CHECK(data_offset <= file_size, "load_npy: '", path, "': truncated header (says ", header_len,
           " bytes, file has ", file_size, ")");
  std::string header(reinterpret_cast<const char*>(bytes.data()) + kMagicLen + 2 + len_bytes, header_len);
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0'))
    header.pop_back();

  const std::map<std::string, HeaderValue> dict = HeaderParser(header, path).dict();
  auto field = [&](const char* key) -> const HeaderValue& {
    auto it = dict.find(key);
    BL_CHECK(it != dict.end(), "load_npy: '", path, "': header has no '", key, "' entry: ", quoted(header));
    return it->second;
  };
  const HeaderValue& descr = field("descr");
  const std::optional<NpyDtype> dtype = descr.tuple ? std::nullopt : dtype_of(descr.text, ints);
  BL_CHECK(dtype, "load_npy: '", path,
           ints ? "': expected dtype '<f4' (float32), '<i8' (int64) or '<i4' (int32), little-endian, got '"
                : "': expected dtype '<f4' (float32, little-endian), got '",
           quoted(descr.text), "'");
  const HeaderValue& fortran = field("fortran_order");
  BL_CHECK(fortran.text == "False", "load_npy: '", path, "': expected fortran_order False (C order), got ",
           fortran.text.empty() ? "a non-boolean" : quoted(fortran.text));
  const HeaderValue& shape_v = field("shape");
  BL_CHECK(shape_v.tuple, "load_npy: '", path, "': expected 'shape' to be a tuple, got '", quoted(shape_v.text), "'");
  const std::vector<int64_t>& dims = *shape_v.tuple;
  BL_CHECK(static_cast<int>(dims.size()) <= Shape::kMaxDims, "load_npy: '", path, "': expected at most ",
           Shape::kMaxDims, " dimensions, got ", dims.size());
  uint64_t need = *dtype == NpyDtype::Int64 ? 8 : 4;
  bool overflow = false;
  for (int64_t d : dims) overflow |= __builtin_mul_overflow(need, static_cast<uint64_t>(d), &need);
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) need = 0, overflow = false;
  const uint64_t have = file_size - data_offset;
  BL_CHECK(!overflow && have == need, "load_npy: '", path, "': shape ", Shape(dims), " needs ",
           overflow ? std::string("more than 2^64") : std::to_string(need), " bytes of ", to_string(*dtype),
           " data, file holds ", have);
  return {dims, *dtype, data_offset, need};
}

NpyArray parse_npy_impl(std::span<const unsigned char> bytes, const std::string& path, bool ints) {
  const ParsedHeader h = parse_header(bytes, bytes.size(), path, ints);
  Tensor t = Tensor::empty(Shape(h.dims));
  const unsigned char* src = bytes.data() + h.data_offset;
  if (h.dtype == NpyDtype::Float32) {
    if (h.data_bytes) std::memcpy(t.data(), src, h.data_bytes);
    return {std::move(t), h.dtype};
  }
  // Integers become float32 values, exact up to 2^24 (every vocabulary in use is smaller).
  for (int64_t i = 0; i < t.numel(); ++i) {
    int64_t v = 0;
    if (h.dtype == NpyDtype::Int64) {
      std::memcpy(&v, src + i * 8, 8);
    } else {
      int32_t v32 = 0;
      std::memcpy(&v32, src + i * 4, 4);
      v = v32;
    }
    BL_CHECK(v >= -kNpyMaxExactInt && v <= kNpyMaxExactInt, "load_npy: '", path, "': integer ", v, " at flat index ", i,
             " is outside +-", kNpyMaxExactInt, " (expected token ids that float32 holds exactly)");
    t.data()[i] = static_cast<float>(v);
  }
  return {std::move(t), h.dtype};
}

}  // namespace

std::string to_string(NpyDtype d) {
  switch (d) {
    case NpyDtype::Float32: return "float32";
    case NpyDtype::Int64: return "int64";
    case NpyDtype::Int32: return "int32";
  }
  return "?";
}

Tensor parse_npy(std::span<const unsigned char> bytes, const std::string& path) {
  return parse_npy_impl(bytes, path, false).values;
}

NpyArray parse_npy_array(std::span<const unsigned char> bytes, const std::string& path) {
  return parse_npy_impl(bytes, path, true);
}

Tensor load_npy(const std::string& path) {
  const std::string bytes = read_file(path, "load_npy");
  return parse_npy({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, path);
}

NpyArray load_npy_array(const std::string& path) {
  const std::string bytes = read_file(path, "load_npy");
  return parse_npy_array({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, path);
}

NpyInfo read_npy_info(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  BL_CHECK(f, "load_npy: cannot open '", path, "'");
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  BL_CHECK(!ec, "load_npy: cannot read the size of '", path, "': ", ec.message());
  // Magic, version and header length first, then the header itself (no data is read).
  std::vector<unsigned char> head(std::min<uint64_t>(size, 12));
  f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  uint64_t header_end = head.size();
  if (head.size() >= 10 && std::memcmp(head.data(), kMagic, kMagicLen) == 0) {
    const size_t len_bytes = head[6] == 1 ? 2 : 4;
    uint64_t len = 0;
    for (size_t i = len_bytes; i-- > 0;) len = (len << 8) | head[kMagicLen + 2 + i];
    header_end = std::min<uint64_t>(size, kMagicLen + 2 + len_bytes + len);
  }
  head.resize(header_end);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  BL_CHECK(f, "load_npy: cannot read the header of '", path, "'");
  const ParsedHeader h = parse_header(head, size, path, /*ints=*/false);
  return {Shape(h.dims), h.data_offset};
}

Tensor load_npy_rows(const std::string& path, const NpyInfo& info, int64_t begin, int64_t end) {
  BL_CHECK(info.shape.rank() >= 1 && 0 <= begin && begin <= end && end <= info.shape[0], "load_npy_rows: '", path,
           "': rows [", begin, ", ", end, ") outside the first axis of ", info.shape);
  std::vector<int64_t> dims = info.shape.to_vector();
  const int64_t row = dims[0] > 0 ? info.shape.numel() / dims[0] : 0;
  dims[0] = end - begin;
  Tensor t = Tensor::empty(Shape(dims));
  std::ifstream f(path, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(info.data_offset + static_cast<uint64_t>(begin * row) * sizeof(float)));
  f.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>((end - begin) * row * sizeof(float)));
  BL_CHECK(f, "load_npy_rows: '", path, "': could not read rows [", begin, ", ", end, ")");
  return t;
}

}  // namespace backlight::cli
