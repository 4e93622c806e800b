#include "models/embedded_weights.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "models/json_limits.h"

namespace backlight {

namespace {

void read_entries(const nlohmann::json& header, const unsigned char* data, uint64_t data_size,
                  const std::string& ctx, SafeTensorsFile& out) {
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      for (const auto& [k, v] : value.items()) {
        BL_CHECK(v.is_string(), ctx, ": metadata \"", truncate_for_message(k), "\" is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = ctx + ": tensor \"" + truncate_for_message(key) + "\"";
    BL_CHECK(value.is_object() && value.value("dtype", "") == "F32", where, ": expected dtype F32, got ",
             json_excerpt(value));
    const auto& shape = value.at("shape");
    BL_CHECK(shape.is_array() && shape.size() <= static_cast<size_t>(Shape::kMaxDims), where, ": bad shape ",
             json_excerpt(shape));
    std::vector<int64_t> dims;
    uint64_t numel = 1;
    for (const auto& d : shape) {
      BL_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= data_size, where, ": bad shape ", json_excerpt(shape));
      dims.push_back(d.get<int64_t>());
      numel *= d.get<uint64_t>();
      BL_CHECK(numel <= data_size, where, ": shape ", json_excerpt(shape), " is larger than the data section");
    }
    const auto& offsets = value.at("data_offsets");
    // Unsigned integers only: get<uint64_t>() on a float such as 1e23 is undefined behaviour.
    BL_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                 offsets[1].is_number_unsigned(),
             where, ": expected data_offsets [begin, end] of non-negative integers, got ", json_excerpt(offsets));
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    BL_CHECK(begin <= end && end <= data_size && end - begin == numel * sizeof(float), where, ": data_offsets [",
             begin, ", ", end, "] do not hold ", numel, " floats inside ", data_size, " bytes");
    Tensor t = Tensor::empty(Shape(dims));
    if (numel > 0) std::memcpy(t.data(), data + begin, end - begin);  // the host is little-endian, as the file
    out.dtypes[key] = "F32";
    out.tensors.emplace_back(key, std::move(t));
  }
}

}  // namespace

SafeTensorsFile read_safetensors_bytes(std::span<const unsigned char> bytes, const std::string& name) {
  const std::string ctx = "read_safetensors_bytes: " + name;
  BL_CHECK(bytes.size() >= 8, ctx, ": ", bytes.size(), " bytes, too short for the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[static_cast<size_t>(i)];  // little-endian
  BL_CHECK(header_len <= bytes.size() - 8, ctx, ": header length ", header_len, " exceeds the ", bytes.size() - 8,
           " bytes after the length field");
  const auto header_begin = bytes.begin() + 8;
  check_json_depth(std::string_view(reinterpret_cast<const char*>(bytes.data() + 8), header_len), ctx + ": header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + static_cast<ptrdiff_t>(header_len));
  } catch (const nlohmann::json::exception& err) {
    BL_THROW(ctx, ": header is not valid JSON (", truncate_for_message(err.what()), ")");
  }
  BL_CHECK(header.is_object(), ctx, ": expected the header to be a JSON object, got ", header.type_name());
  SafeTensorsFile out;
  out.path = name;
  try {
    read_entries(header, bytes.data() + 8 + header_len, bytes.size() - 8 - header_len, ctx, out);
  } catch (const nlohmann::json::exception& err) {  // a missing or mistyped field
    BL_THROW(ctx, ": malformed header entry (", truncate_for_message(err.what()), ")");
  }
  return out;
}

}  // namespace backlight
