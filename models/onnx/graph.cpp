#include "models/onnx/graph.h"

#include <cstring>
#include <fstream>
#include <limits>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "engine/error.h"
#include "models/float16.h"
#include "models/onnx/supported.h"

namespace backlight::onnx {

namespace {

namespace pb = ::onnx;

// One tensor may hold at most this many elements (8 GiB of float32): a bound that keeps a
// hostile dims list from asking for an absurd allocation before any byte is read.
constexpr int64_t kMaxElements = int64_t{1} << 31;

int64_t checked_numel(std::span<const int64_t> dims, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    BL_CHECK(d >= 0, what, ": negative dimension ", d);
    BL_CHECK(d == 0 || n <= kMaxElements / d, what, ": more than ", kMaxElements, " elements");
    n *= d;
  }
  return n;
}

size_t element_size(int type) {
  switch (type) {
    case pb::TensorProto::FLOAT: case pb::TensorProto::INT32: case pb::TensorProto::UINT32: return 4;
    case pb::TensorProto::DOUBLE: case pb::TensorProto::INT64: case pb::TensorProto::UINT64: return 8;
    case pb::TensorProto::FLOAT16: case pb::TensorProto::INT16: case pb::TensorProto::UINT16: return 2;
    case pb::TensorProto::INT8: case pb::TensorProto::UINT8: case pb::TensorProto::BOOL: return 1;
    default: return 0;
  }
}

bool is_int_type(int type) { return type != pb::TensorProto::FLOAT && type != pb::TensorProto::DOUBLE &&
                                    type != pb::TensorProto::FLOAT16; }

template <class T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Decodes element i of little-endian raw bytes of `type` into the tensor.
void store_raw(ConstTensor& t, int type, const char* p, int64_t i) {
  switch (type) {
    case pb::TensorProto::FLOAT: t.floats[i] = load_le<float>(p); break;
    case pb::TensorProto::DOUBLE: t.floats[i] = static_cast<float>(load_le<double>(p)); break;
    case pb::TensorProto::FLOAT16: t.floats[i] = half_to_float(load_le<uint16_t>(p)); break;
    case pb::TensorProto::INT64: t.ints[i] = load_le<int64_t>(p); break;
    case pb::TensorProto::UINT64: t.ints[i] = static_cast<int64_t>(load_le<uint64_t>(p)); break;
    case pb::TensorProto::INT32: t.ints[i] = load_le<int32_t>(p); break;
    case pb::TensorProto::UINT32: t.ints[i] = load_le<uint32_t>(p); break;
    case pb::TensorProto::INT16: t.ints[i] = load_le<int16_t>(p); break;
    case pb::TensorProto::UINT16: t.ints[i] = load_le<uint16_t>(p); break;
    case pb::TensorProto::INT8: t.ints[i] = load_le<int8_t>(p); break;
    case pb::TensorProto::UINT8: case pb::TensorProto::BOOL: t.ints[i] = load_le<uint8_t>(p); break;
    default: break;
  }
}

ConstPtr convert_tensor(const pb::TensorProto& tp, std::string_view where) {
  const std::string what = std::string(where) + ": tensor '" + tp.name() + "'";
  const int type = tp.data_type();
  const size_t esize = element_size(type);
  BL_CHECK(esize > 0, what, ": data type ", pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(type)),
           " (", type, ") is not supported (float, double, float16, int8..int64, uint8..uint64, bool)");
  auto t = std::make_shared<ConstTensor>();
  t->dims.assign(tp.dims().begin(), tp.dims().end());
  BL_CHECK(t->dims.size() <= 8, what, ": rank ", t->dims.size(), " (at most 8 supported)");
  const int64_t n = checked_numel(t->dims, what);
  t->is_int = is_int_type(type);
  BL_CHECK(tp.data_location() != pb::TensorProto::EXTERNAL, what, ": external data was not resolved");
  if (t->is_int) t->ints.resize(n); else t->floats.resize(n);
  if (tp.has_raw_data()) {
    const std::string& raw = tp.raw_data();
    BL_CHECK(raw.size() == static_cast<size_t>(n) * esize, what, ": raw_data holds ", raw.size(), " bytes, dims ",
             "need ", n * static_cast<int64_t>(esize));
    for (int64_t i = 0; i < n; ++i) store_raw(*t, type, raw.data() + i * esize, i);
    return t;
  }
  auto need = [&](int64_t have) {
    BL_CHECK(have == n, what, ": holds ", have, " values, dims need ", n);
  };
  switch (type) {
    case pb::TensorProto::FLOAT:
      need(tp.float_data_size());
      for (int64_t i = 0; i < n; ++i) t->floats[i] = tp.float_data(static_cast<int>(i));
      break;
    case pb::TensorProto::DOUBLE:
      need(tp.double_data_size());
      for (int64_t i = 0; i < n; ++i) t->floats[i] = static_cast<float>(tp.double_data(static_cast<int>(i)));
      break;
    case pb::TensorProto::INT64:
      need(tp.int64_data_size());
      for (int64_t i = 0; i < n; ++i) t->ints[i] = tp.int64_data(static_cast<int>(i));
      break;
    case pb::TensorProto::UINT64: case pb::TensorProto::UINT32:
      need(tp.uint64_data_size());
      for (int64_t i = 0; i < n; ++i) t->ints[i] = static_cast<int64_t>(tp.uint64_data(static_cast<int>(i)));
      break;
    case pb::TensorProto::FLOAT16:
      need(tp.int32_data_size());
      for (int64_t i = 0; i < n; ++i)
        t->floats[i] = half_to_float(static_cast<uint16_t>(tp.int32_data(static_cast<int>(i))));
      break;
    default:  // int32, int16, int8, uint16, uint8, bool: int32_data
      need(tp.int32_data_size());
      for (int64_t i = 0; i < n; ++i) t->ints[i] = tp.int32_data(static_cast<int>(i));
      break;
  }
  return t;
}

// Reads an external-data tensor's bytes into raw_data. The location must be a plain relative
// path inside the model's folder (no "..", no absolute path): a hostile file must not read
// arbitrary files.
void resolve_external(pb::TensorProto& tp, const std::filesystem::path& base_dir, std::string_view source) {
  const std::string what = std::string(source) + ": tensor '" + tp.name() + "' (external data)";
  BL_CHECK(!base_dir.empty(), what, ": external data needs the model's folder (load the model from a file)");
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : tp.external_data()) {
    auto number = [&](const std::string& s) {
      BL_CHECK(!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos, what, ": ",
               kv.key(), " '", s, "' is not a non-negative integer");
      return std::stoll(s);
    };
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = number(kv.value());
    else if (kv.key() == "length") length = number(kv.value());
  }
  BL_CHECK(!location.empty(), what, ": no 'location' entry");
  const std::filesystem::path rel(location);
  BL_CHECK(rel.is_relative() && !rel.has_root_name(), what, ": location '", location, "' must be relative");
  for (const auto& part : rel) BL_CHECK(part != "..", what, ": location '", location, "' leaves the model's folder");
  const std::filesystem::path file = base_dir / rel;
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  BL_CHECK(!ec, what, ": cannot read '", file.string(), "': ", ec.message());
  const size_t esize = element_size(tp.data_type());
  BL_CHECK(esize > 0, what, ": unsupported data type ", tp.data_type());
  std::vector<int64_t> dims(tp.dims().begin(), tp.dims().end());
  const int64_t need = checked_numel(dims, what) * static_cast<int64_t>(esize);
  if (length < 0) length = need;
  BL_CHECK(length == need, what, ": length ", length, " but dims need ", need, " bytes");
  BL_CHECK(offset <= static_cast<int64_t>(size) && length <= static_cast<int64_t>(size) - offset, what,
           ": bytes [", offset, ", ", offset + length, ") lie outside '", file.string(), "' (", size, " bytes)");
  std::ifstream in(file, std::ios::binary);
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  BL_CHECK(in.good() || length == 0, what, ": short read from '", file.string(), "'");
  tp.set_raw_data(std::move(bytes));
  tp.clear_external_data();
  tp.set_data_location(pb::TensorProto::DEFAULT);
}

Attribute convert_attribute(const pb::AttributeProto& a, std::string_view where) {
  Attribute r;
  switch (a.type()) {
    case pb::AttributeProto::INT: r.type = Attribute::Type::Int; r.i = a.i(); break;
    case pb::AttributeProto::FLOAT: r.type = Attribute::Type::Float; r.f = a.f(); break;
    case pb::AttributeProto::INTS:
      r.type = Attribute::Type::Ints;
      r.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case pb::AttributeProto::FLOATS:
      r.type = Attribute::Type::Floats;
      r.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case pb::AttributeProto::STRING: r.type = Attribute::Type::String; r.s = a.s(); break;
    case pb::AttributeProto::TENSOR:
      r.type = Attribute::Type::Tensor;
      r.t = convert_tensor(a.t(), where);
      break;
    default: r.type = Attribute::Type::Other; break;  // graphs, sparse tensors: refused by the op that reads them
  }
  return r;
}

std::vector<int64_t> dims_of(const pb::TypeProto& t) {
  std::vector<int64_t> d;
  if (!t.has_tensor_type() || !t.tensor_type().has_shape()) return d;
  for (const auto& dim : t.tensor_type().shape().dim()) d.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  return d;
}

}  // namespace

int64_t ConstTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t ConstTensor::int_at(int64_t i) const {
  if (is_int) return ints[i];
  const float v = floats[i];
  BL_CHECK(v == v && v > -9.2e18f && v < 9.2e18f, "onnx: value ", v, " is not an integer");
  return static_cast<int64_t>(v);
}

std::string Node::describe() const { return "node '" + name + "' (" + op_type + ")"; }

Graph parse_onnx(std::span<const uint8_t> bytes, std::string_view source, const std::filesystem::path& base_dir,
                 const ShapeChooser& choose) {
  const std::string src(source);
  BL_CHECK(bytes.size() < static_cast<size_t>(std::numeric_limits<int>::max()), src, ": ", bytes.size(),
           " bytes: a protobuf file must stay below 2 GB (export larger models with external data)");
  pb::ModelProto model;
  BL_CHECK(model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), src,
           ": not a valid ONNX file (the ModelProto does not parse: truncated or not ONNX)");
  BL_CHECK(model.has_graph(), src, ": the ModelProto holds no graph");
  pb::GraphProto& g = *model.mutable_graph();
  for (auto& tp : *g.mutable_initializer())
    if (tp.data_location() == pb::TensorProto::EXTERNAL) resolve_external(tp, base_dir, src);

  Graph out;
  out.source = src;
  out.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") out.opset = op.version();
  BL_CHECK(out.opset > 0, src, ": no opset for the default ONNX domain");
  BL_CHECK(out.opset >= kMinOpset && out.opset <= kMaxOpset, src, ": opset ", out.opset,
           " is not supported (supported: ", kMinOpset, " to ", kMaxOpset,
           "; re-export with torch.onnx.export(..., opset_version=17))");
  try {
    pb::checker::check_model(model);
  } catch (const std::exception& e) {
    BL_THROW(src, ": ONNX checker: ", e.what());
  }

  for (const auto& tp : g.initializer()) out.initializers[tp.name()] = convert_tensor(tp, src);
  std::vector<const pb::ValueInfoProto*> inputs;
  for (const auto& vi : g.input())
    if (!out.initializers.count(vi.name())) inputs.push_back(&vi);
  BL_CHECK(inputs.size() == 1, src, ": the graph has ", inputs.size(),
           " inputs besides its initializers; backlight explains models with exactly one input");
  out.input = inputs[0]->name();
  out.input_dims = dims_of(inputs[0]->type());
  const int elem = inputs[0]->type().tensor_type().elem_type();
  out.input_is_int = elem != pb::TensorProto::FLOAT && elem != pb::TensorProto::DOUBLE &&
                     elem != pb::TensorProto::FLOAT16 && elem != 0;

  for (const auto& kv : model.metadata_props()) out.metadata[kv.key()] = kv.value();
  const std::vector<int64_t> input_shape = choose ? choose(out) : std::vector<int64_t>{};
  if (!input_shape.empty()) {  // shape inference for this input shape
    pb::ValueInfoProto* vi = nullptr;
    for (auto& v : *g.mutable_input())
      if (v.name() == out.input) vi = &v;
    auto* shape = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    for (int64_t d : input_shape) shape->add_dim()->set_dim_value(d);
    try {
      pb::shape_inference::InferShapes(model);
    } catch (const std::exception& e) {
      BL_THROW(src, ": ONNX shape inference for input ", out.input, " of shape [",
               [&] { std::string s; for (int64_t d : input_shape) s += (s.empty() ? "" : ",") + std::to_string(d); return s; }(),
               "]: ", e.what());
    }
    for (const auto& v : g.value_info()) out.value_dims[v.name()] = dims_of(v.type());
    for (const auto& v : g.output()) out.value_dims[v.name()] = dims_of(v.type());
  }
  for (const auto& v : g.output()) out.outputs.push_back(v.name());

  out.nodes.reserve(g.node_size());
  for (const auto& n : g.node()) {
    Node node;
    node.name = n.name();
    node.op_type = n.op_type();
    BL_CHECK(n.domain().empty() || n.domain() == "ai.onnx", src, ": ", node.describe(), " is in domain '", n.domain(),
             "'; only the default ONNX domain is supported");
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) node.attrs[a.name()] = convert_attribute(a, src + ": " + node.describe());
    out.nodes.push_back(std::move(node));
  }
  return out;
}

Graph read_onnx_file(const std::filesystem::path& path, const ShapeChooser& choose) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  BL_CHECK(in, "read_onnx_file: cannot open '", path.string(), "'");
  const std::streamoff size = in.tellg();
  BL_CHECK(size >= 0, "read_onnx_file: cannot read '", path.string(), "'");
  BL_CHECK(size < std::numeric_limits<int>::max(), path.string(), ": ", size,
           " bytes: a protobuf file must stay below 2 GB (export larger models with external data)");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  BL_CHECK(in.good() || size == 0, "read_onnx_file: short read from '", path.string(), "'");
  return parse_onnx(bytes, path.string(), path.parent_path().empty() ? "." : path.parent_path(), choose);
}

}  // namespace backlight::onnx
