#include "models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/error.h"
#include "models/json_limits.h"
#include "models/float16.h"

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace backlight {
namespace {

using Json = nlohmann::ordered_json;  // keeps the header's order: tensors come back in file order

enum class Conv { F32, F16, BF16, F64, Bool, U8, I8, I16, U16, I32, U32, I64, U64, Unsupported };

struct DtypeInfo {
  std::string_view name;
  uint64_t size;
  Conv conv;
};

// Every dtype the format defines; the F8 ones are known but not converted.
constexpr DtypeInfo kDtypes[] = {
    {"F32", 4, Conv::F32},     {"F16", 2, Conv::F16},       {"BF16", 2, Conv::BF16},
    {"F64", 8, Conv::F64},     {"BOOL", 1, Conv::Bool},     {"U8", 1, Conv::U8},
    {"I8", 1, Conv::I8},       {"I16", 2, Conv::I16},       {"U16", 2, Conv::U16},
    {"I32", 4, Conv::I32},     {"U32", 4, Conv::U32},       {"I64", 8, Conv::I64},
    {"U64", 8, Conv::U64},     {"F8_E4M3", 1, Conv::Unsupported}, {"F8_E5M2", 1, Conv::Unsupported},
    {"F8_E8M0", 1, Conv::Unsupported},
};

const DtypeInfo* find_dtype(std::string_view name) {
  for (const DtypeInfo& d : kDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

/// Owns the private read-only-file mapping; zero-copy tensors alias it.
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (base) ::munmap(base, size);
  }
};

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  int64_t numel;
  uint64_t begin, end;
};

template <class T>
T load(const unsigned char* p) {  // unaligned little-endian load without UB
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void convert(const Entry& e, const unsigned char* src, float* dst) {
  const int64_t n = e.numel;
  switch (e.dtype->conv) {
    case Conv::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case Conv::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half_to_float(load<uint16_t>(src + 2 * i));
      return;
    case Conv::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(load<uint16_t>(src + 2 * i));
      return;
    case Conv::F64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(src + 8 * i));
      return;
    case Conv::Bool:
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i] ? 1.0f : 0.0f;
      return;
    case Conv::U8:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      return;
    case Conv::I8:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int8_t>(src + i));
      return;
    case Conv::I16:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int16_t>(src + 2 * i));
      return;
    case Conv::U16:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<uint16_t>(src + 2 * i));
      return;
    case Conv::I32:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int32_t>(src + 4 * i));
      return;
    case Conv::U32:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<uint32_t>(src + 4 * i));
      return;
    case Conv::I64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<int64_t>(src + 8 * i));
      return;
    case Conv::U64:
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<uint64_t>(src + 8 * i));
      return;
    case Conv::Unsupported:
      break;
  }
  BL_THROW("read_safetensors: internal error: no conversion for dtype ", e.dtype->name);
}

/// Validates one header entry; `where` is "read_safetensors: <file>: tensor \"name\"".
Entry parse_entry(const std::string& where, const std::string& name, const Json& v, uint64_t data_size) {
  BL_CHECK(v.is_object(), where, ": expected an object {dtype, shape, data_offsets}, got ", json_excerpt(v));
  const auto dt = v.find("dtype");
  BL_CHECK(dt != v.end() && dt->is_string(), where, ": expected a string \"dtype\", got ",
           dt == v.end() ? std::string("none") : json_excerpt(*dt));
  Entry e{name, find_dtype(dt->get_ref<const std::string&>()), {}, 1, 0, 0};
  BL_CHECK(e.dtype, where, ": unknown dtype ", json_excerpt(*dt),
           " (expected one of F32, F16, BF16, F64, BOOL, U8, I8, I16, U16, I32, U32, I64, U64)");
  BL_CHECK(e.dtype->conv != Conv::Unsupported, where, ": dtype ", e.dtype->name,
           " is not supported (float8 has no float32 conversion here)");

  const auto sh = v.find("shape");
  BL_CHECK(sh != v.end() && sh->is_array(), where, ": expected an array \"shape\", got ",
           sh == v.end() ? std::string("none") : json_excerpt(*sh));
  BL_CHECK(sh->size() <= static_cast<size_t>(Shape::kMaxDims), where, ": expected at most ", Shape::kMaxDims,
           " dimensions, got shape ", json_excerpt(*sh));
  for (const Json& d : *sh) {
    BL_CHECK(d.is_number_integer() && (d.is_number_unsigned() || d.get<int64_t>() >= 0), where,
             ": expected non-negative integer dimensions, got shape ", json_excerpt(*sh));
    BL_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), where,
             ": dimension out of range in shape ", json_excerpt(*sh));
    const int64_t di = d.get<int64_t>();
    BL_CHECK(!__builtin_mul_overflow(e.numel, di, &e.numel), where, ": element count of shape ", json_excerpt(*sh),
             " overflows");
    e.shape.push_back(di);
  }

  const auto off = v.find("data_offsets");
  BL_CHECK(off != v.end() && off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
               (*off)[1].is_number_unsigned(),
           where, ": expected \"data_offsets\": [begin, end] of non-negative integers, got ",
           off == v.end() ? std::string("none") : json_excerpt(*off));
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  BL_CHECK(e.begin <= e.end, where, ": data_offsets [", e.begin, ", ", e.end, "] end before begin");
  BL_CHECK(e.end <= data_size, where, ": data_offsets [", e.begin, ", ", e.end,
           "] out of range of the data section of ", data_size, " bytes (file truncated?)");
  uint64_t bytes = 0;
  BL_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(e.numel), e.dtype->size, &bytes), where,
           ": byte size of shape ", json_excerpt(*sh), " overflows");
  BL_CHECK(e.end - e.begin == bytes, where, ": size mismatch: shape ", json_excerpt(*sh), " of ", e.dtype->name,
           " needs ", bytes, " bytes, data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
  return e;
}

/// Header JSON -> entries + metadata. Duplicate names are caught while parsing (a JSON object
/// would silently keep only one of them).
std::vector<Entry> parse_header(const std::string& file, std::string_view text, uint64_t data_size,
                                std::map<std::string, std::string>& metadata) {
  const std::string ctx = "read_safetensors: " + file;
  std::set<std::string> seen;
  std::string duplicate;
  Json::parser_callback_t on_key = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  // nlohmann's lexer takes a NUL byte for end of input; raw NUL is never valid JSON text.
  const size_t nul = text.find('\0');
  BL_CHECK(nul == std::string_view::npos, ctx, ": header is not valid JSON (NUL byte at offset ", nul,
           " of ", text.size(), "; wrong header length?)");
  check_json_depth(text, ctx + ": header");
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), on_key);
  } catch (const nlohmann::json::exception& err) {
    BL_THROW(ctx, ": header is not valid JSON (", truncate_for_message(err.what()), ")");
  }
  BL_CHECK(duplicate.empty(), ctx, ": tensor name \"", truncate_for_message(duplicate), "\" appears more than once in the header");
  BL_CHECK(header.is_object(), ctx, ": expected the header to be a JSON object, got ",
           header.type_name());

  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      BL_CHECK(value.is_object(), ctx, ": expected \"__metadata__\" to be an object of strings, got ",
               value.type_name());
      for (const auto& [k, s] : value.items()) {
        BL_CHECK(s.is_string(), ctx, ": expected string values in \"__metadata__\", key \"", truncate_for_message(k), "\" holds ",
                 json_excerpt(s));
        metadata[k] = s.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(ctx + ": tensor \"" + truncate_for_message(name) + "\"", name, value, data_size));
  }

  // No two non-empty byte ranges may overlap (a crafted file could alias tensors otherwise).
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  uint64_t last_end = 0;
  for (size_t i = 0; i < by_offset.size(); ++i) {
    if (i > 0) {
      const Entry& a = *by_offset[i - 1];
      const Entry& b = *by_offset[i];
      BL_CHECK(b.begin >= a.end, ctx, ": tensors \"", truncate_for_message(a.name), "\" [", a.begin, ", ", a.end,
               ") and \"", truncate_for_message(b.name),
               "\" [", b.begin, ", ", b.end, ") have overlapping data_offsets");
    }
    last_end = std::max(last_end, by_offset[i]->end);
  }
  // As the Python library: the tensors must end exactly at the end of the file. Trailing bytes mean
  // the header length is wrong (or the file was appended to).
  BL_CHECK(last_end == data_size, ctx, ": the data section has ", data_size, " bytes but the tensors end at byte ",
           last_end, " (wrong header length?)");
  return entries;
}

}  // namespace

const Tensor* SafeTensorsFile::find(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const Tensor& SafeTensorsFile::at(std::string_view name) const {
  if (const Tensor* t = find(name)) return *t;
  std::string known;
  for (size_t i = 0; i < tensors.size() && i < 8; ++i) known += (i ? ", " : "") + tensors[i].first;
  if (tensors.size() > 8) known += ", ... (" + std::to_string(tensors.size()) + " in all)";
  BL_THROW("SafeTensorsFile::at: ", path, ": expected a tensor named \"", name, "\", the file has: ",
           known.empty() ? std::string("no tensors") : known);
}

namespace {

// Validates and decodes a whole safetensors image. With `map` set, aligned F32 tensors alias the
// mapping (zero-copy); without it every tensor is copied.
SafeTensorsFile decode(const unsigned char* bytes, uint64_t file_size, const std::string& file,
                       const std::shared_ptr<Mapping>& map) {
  const std::string ctx = "read_safetensors: " + file;
  BL_CHECK(file_size >= 8, ctx, ": ", file_size, " bytes, too short for the 8-byte header length (truncated?)");

  const uint64_t header_len = load<uint64_t>(bytes);
  BL_CHECK(header_len <= file_size - 8, ctx, ": header length ", header_len, " is larger than the ",
           file_size - 8, " bytes after the length field (truncated file or wrong header length)");
  BL_CHECK(header_len <= kSafeTensorsMaxHeader, ctx, ": header length ", header_len, " exceeds the cap of ",
           kSafeTensorsMaxHeader, " bytes");
  const uint64_t data_size = file_size - 8 - header_len;
  const unsigned char* data = bytes + 8 + header_len;

  SafeTensorsFile out;
  out.path = file;
  const std::vector<Entry> entries =
      parse_header(file, std::string_view(reinterpret_cast<const char*>(bytes + 8), header_len), data_size,
                   out.metadata);
  out.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    const Shape shape(e.shape);
    const unsigned char* src = data + e.begin;
    Tensor t;
    if (map && e.dtype->conv == Conv::F32 && e.numel > 0 &&
        reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
      // Aliasing constructor: shares ownership of the mapping, points at this tensor's bytes.
      t = Tensor::wrap(shape, std::shared_ptr<float>(map, reinterpret_cast<float*>(const_cast<unsigned char*>(src))));
    } else {
      t = Tensor::empty(shape);
      if (e.numel > 0) convert(e, src, t.data());
    }
    out.dtypes[e.name] = std::string(e.dtype->name);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

SafeTensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  const std::string ctx = "read_safetensors: " + file;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  BL_CHECK(fd >= 0, ctx, ": cannot open (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    BL_THROW(ctx, ": expected a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    BL_THROW(ctx, ": file is ", file_size, " bytes, too short for the 8-byte header length (truncated?)");
  }
  auto map = std::make_shared<Mapping>();
  // Private + writable: the file is opened read-only and never changes, but an op that writes into
  // a zero-copy tensor in place gets a private page instead of a segfault.
  void* base = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  BL_CHECK(base != MAP_FAILED, ctx, ": mmap failed (", std::strerror(map_errno), ")");
  map->base = base;
  map->size = file_size;
  return decode(static_cast<const unsigned char*>(base), file_size, file, map);
}

SafeTensorsFile parse_safetensors(std::span<const unsigned char> bytes, std::string_view name) {
  return decode(bytes.data(), bytes.size(), std::string(name), nullptr);
}

void write_safetensors(const std::filesystem::path& path, std::span<const std::pair<std::string, Tensor>> tensors,
                       const std::map<std::string, std::string>& metadata, SafeTensorsWriteOptions options) {
  const std::string file = path.string();
  const std::string ctx = "write_safetensors: " + file;
  const char* dtype = options.dtype == SafeTensorsDtype::F32   ? "F32"
                      : options.dtype == SafeTensorsDtype::F16 ? "F16"
                                                               : "BF16";
  const uint64_t elem = options.dtype == SafeTensorsDtype::F32 ? 4 : 2;

  Json header = Json::object();
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    BL_CHECK(!name.empty() && name != "__metadata__", ctx, ": expected a tensor name other than \"\" and "
             "\"__metadata__\", got \"", name, "\"");
    BL_CHECK(names.insert(name).second, ctx, ": expected unique tensor names, \"", name, "\" appears twice");
    BL_CHECK(t.defined(), ctx, ": tensor \"", name, "\" is undefined");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * elem;
    header[name] = {{"dtype", dtype}, {"shape", t.shape().to_vector()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  const uint64_t header_len = text.size();

  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
    BL_CHECK(os, ctx, ": cannot open ", tmp.string(), " for writing (", std::strerror(errno), ")");
    os.write(reinterpret_cast<const char*>(&header_len), 8);
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<uint16_t> narrow;
    for (const auto& [name, t] : tensors) {
      const std::span<const float> v = t.span();
      if (options.dtype == SafeTensorsDtype::F32) {
        os.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size_bytes()));
        continue;
      }
      narrow.resize(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        narrow[i] = options.dtype == SafeTensorsDtype::F16 ? float_to_half(v[i]) : float_to_bf16(v[i]);
      os.write(reinterpret_cast<const char*>(narrow.data()), static_cast<std::streamsize>(narrow.size() * 2));
    }
    os.flush();
    if (!os) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      BL_THROW(ctx, ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  BL_CHECK(!ec, ctx, ": cannot rename ", tmp.string(), " into place (", ec.message(), ")");
}

}  // namespace backlight
