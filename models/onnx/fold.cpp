#include "models/onnx/fold.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/error.h"

namespace backlight::onnx {

namespace {

using Dims = std::vector<int64_t>;

ConstPtr make_int(Dims dims, std::vector<int64_t> v) {
  auto t = std::make_shared<ConstTensor>();
  t->dims = std::move(dims);
  t->is_int = true;
  t->ints = std::move(v);
  return t;
}

int64_t numel_of(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

const ConstTensor& need(const Node& n, std::span<const ConstPtr> in, size_t i) {
  BL_CHECK(i < in.size() && in[i], "onnx: ", n.describe(), ": input ", i, " is required");
  return *in[i];
}

int64_t norm_axis(const Node& n, int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  BL_CHECK(axis >= 0 && axis < std::max<int64_t>(rank, 1), "onnx: ", n.describe(), ": axis ", axis,
           " out of range for rank ", rank);
  return axis;
}

// Element-wise result of a and b broadcast numpy-style, as doubles.
ConstPtr broadcast_binary(const Node& n, const ConstTensor& a, const ConstTensor& b,
                          const std::function<double(double, double)>& f, bool int_result) {
  const size_t r = std::max(a.dims.size(), b.dims.size());
  Dims out(r);
  for (size_t d = 0; d < r; ++d) {
    const int64_t da = d + a.dims.size() >= r ? a.dims[d + a.dims.size() - r] : 1;
    const int64_t db = d + b.dims.size() >= r ? b.dims[d + b.dims.size() - r] : 1;
    BL_CHECK(da == db || da == 1 || db == 1, "onnx: ", n.describe(), ": shapes do not broadcast");
    out[d] = std::max(da, db);
  }
  const int64_t total = numel_of(out);
  BL_CHECK(total <= (int64_t{1} << 26), "onnx: ", n.describe(), ": constant of ", total, " elements is too large to fold");
  auto t = std::make_shared<ConstTensor>();
  t->dims = out;
  t->is_int = int_result;
  if (int_result) t->ints.resize(total); else t->floats.resize(total);
  Dims idx(r, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < r; ++d) {
      if (d + a.dims.size() >= r) { const int64_t s = a.dims[d + a.dims.size() - r]; ia = ia * s + (s == 1 ? 0 : idx[d]); }
      if (d + b.dims.size() >= r) { const int64_t s = b.dims[d + b.dims.size() - r]; ib = ib * s + (s == 1 ? 0 : idx[d]); }
    }
    const double v = f(a.at(ia), b.at(ib));
    if (int_result) t->ints[i] = static_cast<int64_t>(v); else t->floats[i] = static_cast<float>(v);
    for (int d = static_cast<int>(r) - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return t;
}

ConstPtr with_dims(const ConstTensor& x, Dims dims) {
  auto t = std::make_shared<ConstTensor>(x);
  t->dims = std::move(dims);
  return t;
}

// Gathers along `axis` with index tensor idx.
ConstPtr gather(const Node& n, const ConstTensor& data, const ConstTensor& idx, int64_t axis) {
  const int64_t rank = static_cast<int64_t>(data.dims.size());
  axis = norm_axis(n, axis, rank);
  const int64_t outer = numel_of(Dims(data.dims.begin(), data.dims.begin() + axis));
  const int64_t inner = numel_of(Dims(data.dims.begin() + axis + 1, data.dims.end()));
  const int64_t size = data.dims[axis];
  Dims out(data.dims.begin(), data.dims.begin() + axis);
  out.insert(out.end(), idx.dims.begin(), idx.dims.end());
  out.insert(out.end(), data.dims.begin() + axis + 1, data.dims.end());
  auto t = std::make_shared<ConstTensor>();
  t->dims = out;
  t->is_int = data.is_int;
  const int64_t m = idx.numel();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j) {
      int64_t k = idx.int_at(j);
      if (k < 0) k += size;
      BL_CHECK(k >= 0 && k < size, "onnx: ", n.describe(), ": index ", idx.int_at(j), " out of range [0, ", size, ")");
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t src = (o * size + k) * inner + i;
        if (data.is_int) t->ints.push_back(data.ints[src]); else t->floats.push_back(data.floats[src]);
      }
    }
  return t;
}

}  // namespace

int64_t attr_int(const Node& n, std::string_view name, int64_t fallback) {
  const auto it = n.attrs.find(name);
  if (it == n.attrs.end()) return fallback;
  BL_CHECK(it->second.type == Attribute::Type::Int, "onnx: ", n.describe(), ": attribute ", name, " is not an int");
  return it->second.i;
}

float attr_float(const Node& n, std::string_view name, float fallback) {
  const auto it = n.attrs.find(name);
  if (it == n.attrs.end()) return fallback;
  BL_CHECK(it->second.type == Attribute::Type::Float, "onnx: ", n.describe(), ": attribute ", name, " is not a float");
  return it->second.f;
}

std::vector<int64_t> attr_ints(const Node& n, std::string_view name, std::vector<int64_t> fallback) {
  const auto it = n.attrs.find(name);
  if (it == n.attrs.end()) return fallback;
  BL_CHECK(it->second.type == Attribute::Type::Ints, "onnx: ", n.describe(), ": attribute ", name, " is not a list of ints");
  return it->second.ints;
}

std::string attr_string(const Node& n, std::string_view name, std::string fallback) {
  const auto it = n.attrs.find(name);
  if (it == n.attrs.end()) return fallback;
  BL_CHECK(it->second.type == Attribute::Type::String, "onnx: ", n.describe(), ": attribute ", name, " is not a string");
  return it->second.s;
}

bool is_foldable(std::string_view op) {
  static constexpr std::string_view kOps[] = {"Constant", "Identity", "Cast", "ConstantOfShape", "Gather", "Concat",
                                              "Unsqueeze", "Squeeze", "Slice", "Add", "Sub", "Mul", "Div",
                                              "Reshape", "Equal", "Where", "Range", "Transpose", "Floor", "Ceil",
                                              "Sqrt", "Neg", "Expand", "Flatten", "Dropout", "Mod", "Pow",
                                              "Not", "ScatterND", "Greater", "Less", "GreaterOrEqual",
                                              "LessOrEqual", "And", "Or", "Xor"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

bool is_comparison(std::string_view op) {
  return op == "Equal" || op == "Greater" || op == "Less" || op == "GreaterOrEqual" || op == "LessOrEqual" ||
         op == "And" || op == "Or" || op == "Xor";
}

ConstPtr shape_constant(const Node& n, std::span<const int64_t> dims) {
  const int64_t r = static_cast<int64_t>(dims.size());
  int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  return make_int({end - start}, std::vector<int64_t>(dims.begin() + start, dims.begin() + end));
}

std::vector<ConstPtr> eval_constant(const Node& n, std::span<const ConstPtr> in) {
  const std::string& op = n.op_type;
  if (op == "Constant") {
    const auto it = n.attrs.find("value");
    if (it != n.attrs.end() && it->second.type == Attribute::Type::Tensor) return {it->second.t};
    if (n.attrs.count("value_int")) return {make_int({}, {attr_int(n, "value_int", 0)})};
    if (n.attrs.count("value_ints")) {
      auto v = attr_ints(n, "value_ints");
      return {make_int({static_cast<int64_t>(v.size())}, v)};
    }
    if (n.attrs.count("value_float")) {
      auto t = std::make_shared<ConstTensor>();
      t->floats = {attr_float(n, "value_float", 0)};
      return {t};
    }
    BL_THROW("onnx: ", n.describe(), ": only tensor, value_int(s) and value_float constants are supported");
  }
  if (op == "Identity" || op == "Dropout") return {in[0]};
  if (op == "Cast") {
    const ConstTensor& x = need(n, in, 0);
    const int64_t to = attr_int(n, "to", 1);
    const bool to_float = to == 1 || to == 10 || to == 11 || to == 16;
    auto t = std::make_shared<ConstTensor>();
    t->dims = x.dims;
    t->is_int = !to_float;
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (to_float) t->floats.push_back(static_cast<float>(x.at(i)));
      else t->ints.push_back(to == 9 ? (x.at(i) != 0) : x.int_at(i));
    }
    return {t};
  }
  if (op == "ConstantOfShape") {
    const ConstTensor& s = need(n, in, 0);
    Dims dims;
    for (int64_t i = 0; i < s.numel(); ++i) dims.push_back(s.int_at(i));
    const int64_t total = numel_of(dims);
    BL_CHECK(total >= 0 && total <= (int64_t{1} << 26), "onnx: ", n.describe(), ": shape too large to fold");
    const auto it = n.attrs.find("value");
    const ConstPtr v = it != n.attrs.end() && it->second.t ? it->second.t : nullptr;
    auto t = std::make_shared<ConstTensor>();
    t->dims = dims;
    t->is_int = v && v->is_int;
    BL_CHECK(!v || v->numel() == 1, "onnx: ", n.describe(), ": value must hold one element");
    if (t->is_int) t->ints.assign(total, v->ints[0]); else t->floats.assign(total, v ? v->floats[0] : 0.0f);
    return {t};
  }
  if (op == "Gather") return {gather(n, need(n, in, 0), need(n, in, 1), attr_int(n, "axis", 0))};
  if (op == "Concat") {
    BL_CHECK(!in.empty() && in[0], "onnx: ", n.describe(), ": no inputs");
    const int64_t rank = static_cast<int64_t>(in[0]->dims.size());
    const int64_t axis = norm_axis(n, attr_int(n, "axis", 0), rank);
    Dims out = in[0]->dims;
    out[axis] = 0;
    for (const ConstPtr& x : in) {
      BL_CHECK(x && static_cast<int64_t>(x->dims.size()) == rank, "onnx: ", n.describe(), ": inputs differ in rank");
      out[axis] += x->dims[axis];
    }
    const int64_t outer = numel_of(Dims(out.begin(), out.begin() + axis));
    auto t = std::make_shared<ConstTensor>();
    t->dims = out;
    t->is_int = in[0]->is_int;
    for (int64_t o = 0; o < outer; ++o)
      for (const ConstPtr& x : in) {
        const int64_t chunk = x->numel() / std::max<int64_t>(outer, 1);
        for (int64_t i = 0; i < chunk; ++i) {
          if (t->is_int) t->ints.push_back(x->int_at(o * chunk + i));
          else t->floats.push_back(static_cast<float>(x->at(o * chunk + i)));
        }
      }
    return {t};
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    const ConstTensor& x = need(n, in, 0);
    Dims axes = attr_ints(n, "axes");
    if (in.size() > 1 && in[1])
      for (int64_t i = 0; i < in[1]->numel(); ++i) axes.push_back(in[1]->int_at(i));
    Dims dims = x.dims;
    if (op == "Unsqueeze") {
      const int64_t r = static_cast<int64_t>(dims.size() + axes.size());
      for (int64_t& a : axes) a = norm_axis(n, a, r);
      std::sort(axes.begin(), axes.end());
      BL_CHECK(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), "onnx: ", n.describe(),
               ": Unsqueeze axes must be distinct");
      for (int64_t a : axes) {
        // Sorted distinct axes in [0, r) insert in order; the check keeps a hostile list in bounds.
        BL_CHECK(a <= static_cast<int64_t>(dims.size()), "onnx: ", n.describe(), ": Unsqueeze axis ", a,
                 " out of range");
        dims.insert(dims.begin() + a, 1);
      }
    } else {
      const int64_t r = static_cast<int64_t>(dims.size());
      Dims keep;
      for (int64_t d = 0; d < r; ++d) {
        bool drop = axes.empty() ? dims[d] == 1 : false;
        for (int64_t a : axes) drop |= norm_axis(n, a, r) == d;
        if (!drop) keep.push_back(dims[d]);
      }
      dims = keep;
    }
    return {with_dims(x, dims)};
  }
  if (op == "Slice") {  // any rank, any non-zero steps (torch's F.pad export reverses with step -1)
    const ConstTensor& x = need(n, in, 0);
    const ConstTensor& starts = need(n, in, 1);
    const ConstTensor& ends = need(n, in, 2);
    const int64_t r = static_cast<int64_t>(x.dims.size());
    std::vector<std::vector<int64_t>> pick(r);
    for (int64_t d = 0; d < r; ++d)
      for (int64_t i = 0; i < x.dims[d]; ++i) pick[d].push_back(i);
    for (int64_t k = 0; k < starts.numel(); ++k) {
      const int64_t axis = norm_axis(n, in.size() > 3 && in[3] ? in[3]->int_at(k) : k, r);
      const int64_t step = in.size() > 4 && in[4] ? in[4]->int_at(k) : 1;
      BL_CHECK(step != 0, "onnx: ", n.describe(), ": step 0");
      const int64_t size = x.dims[axis];
      int64_t b = starts.int_at(k), e = ends.int_at(k);
      if (b < 0) b += size;
      if (e < 0) e += size;
      pick[axis].clear();
      if (step > 0) {
        b = std::clamp<int64_t>(b, 0, size);
        e = std::clamp<int64_t>(e, 0, size);
        for (int64_t i = b; i < e; i += step) pick[axis].push_back(i);
      } else {
        b = std::clamp<int64_t>(b, -1, size - 1);
        e = std::clamp<int64_t>(e, -1, size - 1);
        for (int64_t i = b; i > e; i += step) pick[axis].push_back(i);
      }
    }
    auto t = std::make_shared<ConstTensor>();
    t->is_int = x.is_int;
    for (int64_t d = 0; d < r; ++d) t->dims.push_back(static_cast<int64_t>(pick[d].size()));
    const int64_t total = numel_of(t->dims);
    Dims idx(r, 0), strides(r, 1);
    for (int64_t d = r - 2; d >= 0; --d) strides[d] = strides[d + 1] * x.dims[d + 1];
    for (int64_t i = 0; i < total; ++i) {
      int64_t src = 0;
      for (int64_t d = 0; d < r; ++d) src += pick[d][idx[d]] * strides[d];
      if (x.is_int) t->ints.push_back(x.ints[src]); else t->floats.push_back(x.floats[src]);
      for (int64_t d = r - 1; d >= 0; --d) {
        if (++idx[d] < t->dims[d]) break;
        idx[d] = 0;
      }
    }
    return {t};
  }
  if (op == "Not") {  // bool tensors are stored as ints 0/1
    auto t = std::make_shared<ConstTensor>(need(n, in, 0));
    for (int64_t i = 0; i < t->numel(); ++i) {
      if (t->is_int) t->ints[i] = t->ints[i] == 0 ? 1 : 0; else t->floats[i] = t->floats[i] == 0.0f ? 1.0f : 0.0f;
    }
    return {t};
  }
  if (op == "ScatterND") {  // data[indices[..., :]] = updates (reduction none), e.g. swin's window mask
    BL_CHECK(attr_string(n, "reduction", "none") == "none", "onnx: ", n.describe(), ": folding ScatterND needs reduction=none");
    const ConstTensor& data = need(n, in, 0);
    const ConstTensor& idx = need(n, in, 1);
    const ConstTensor& upd = need(n, in, 2);
    BL_CHECK(!idx.dims.empty(), "onnx: ", n.describe(), ": indices of rank 0");
    const int64_t k = idx.dims.back(), r = static_cast<int64_t>(data.dims.size());
    BL_CHECK(k >= 1 && k <= r, "onnx: ", n.describe(), ": index depth ", k, " for data of rank ", r);
    int64_t slice = 1;
    for (int64_t d = k; d < r; ++d) slice *= data.dims[d];
    const int64_t count = idx.numel() / k;
    BL_CHECK(upd.numel() == count * slice, "onnx: ", n.describe(), ": updates has ", upd.numel(), " elements, expected ",
             count * slice);
    auto t = std::make_shared<ConstTensor>(data);
    for (int64_t q = 0; q < count; ++q) {
      int64_t off = 0;
      for (int64_t d = 0; d < k; ++d) {
        int64_t v = idx.int_at(q * k + d);
        if (v < 0) v += data.dims[d];
        BL_CHECK(v >= 0 && v < data.dims[d], "onnx: ", n.describe(), ": index ", v, " out of range");
        off = off * data.dims[d] + v;
      }
      for (int64_t j = 0; j < slice; ++j) {
        if (t->is_int) t->ints[off * slice + j] = upd.int_at(q * slice + j);
        else t->floats[off * slice + j] = static_cast<float>(upd.at(q * slice + j));
      }
    }
    return {t};
  }
  if (is_comparison(op)) {  // bool results stored as ints 0/1 (NaN compares false, as numpy and torch)
    std::function<double(double, double)> f;
    if (op == "Equal") f = [](double x, double y) { return x == y ? 1.0 : 0.0; };
    if (op == "Greater") f = [](double x, double y) { return x > y ? 1.0 : 0.0; };
    if (op == "Less") f = [](double x, double y) { return x < y ? 1.0 : 0.0; };
    if (op == "GreaterOrEqual") f = [](double x, double y) { return x >= y ? 1.0 : 0.0; };
    if (op == "LessOrEqual") f = [](double x, double y) { return x <= y ? 1.0 : 0.0; };
    if (op == "And") f = [](double x, double y) { return x != 0 && y != 0 ? 1.0 : 0.0; };
    if (op == "Or") f = [](double x, double y) { return x != 0 || y != 0 ? 1.0 : 0.0; };
    if (op == "Xor") f = [](double x, double y) { return (x != 0) != (y != 0) ? 1.0 : 0.0; };
    return {broadcast_binary(n, need(n, in, 0), need(n, in, 1), f, true)};
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Mod" || op == "Pow") {
    const ConstTensor& a = need(n, in, 0);
    const ConstTensor& b = need(n, in, 1);
    const bool ints = a.is_int && b.is_int;
    std::function<double(double, double)> f;
    if (op == "Pow") f = [](double x, double y) { return std::pow(x, y); };
    if (op == "Mod") {  // fmod=0: the result takes the divisor's sign (Python's %); fmod=1: C's fmod
      const bool c_fmod = attr_int(n, "fmod", 0) != 0;
      BL_CHECK(c_fmod || ints, "onnx: ", n.describe(), ": Mod with fmod=0 needs integer operands");
      f = [&n, c_fmod](double x, double y) {
        BL_CHECK(y != 0, "onnx: ", n.describe(), ": modulo by zero");
        const double r = std::fmod(x, y);
        return c_fmod || r == 0 || (r < 0) == (y < 0) ? r : r + y;
      };
    }
    if (op == "Add") f = [](double x, double y) { return x + y; };
    if (op == "Sub") f = [](double x, double y) { return x - y; };
    if (op == "Mul") f = [](double x, double y) { return x * y; };
    if (op == "Div") {
      if (ints) f = [&n](double x, double y) {
        BL_CHECK(y != 0, "onnx: ", n.describe(), ": integer division by zero");
        return std::trunc(x / y);
      };
      else f = [](double x, double y) { return x / y; };
    }
    return {broadcast_binary(n, a, b, f, ints)};
  }
  if (op == "Where") {
    // Broadcast the three operands to one shape first (masked_fill writes Where(mask, scalar, x)).
    Dims out;
    for (size_t i = 0; i < 3; ++i) {
      const Dims& d = need(n, in, i).dims;
      if (d.size() > out.size()) out.insert(out.begin(), d.size() - out.size(), 1);
      for (size_t k = 0; k < d.size(); ++k) {
        int64_t& o = out[out.size() - d.size() + k];
        BL_CHECK(o == d[k] || o == 1 || d[k] == 1, "onnx: ", n.describe(), ": shapes do not broadcast");
        o = std::max(o, d[k]);
      }
    }
    ConstTensor zeros;
    zeros.dims = out;
    zeros.floats.assign(static_cast<size_t>(numel_of(out)), 0.0f);
    auto expand = [&](size_t i) {
      const ConstTensor& x = need(n, in, i);
      return broadcast_binary(n, x, zeros, [](double v, double) { return v; }, x.is_int);
    };
    const ConstPtr cp = expand(0), ap = expand(1), bp = expand(2);
    const ConstTensor &c = *cp, &a = *ap, &b = *bp;
    auto t = std::make_shared<ConstTensor>(a);
    for (int64_t i = 0; i < a.numel(); ++i)
      if (!c.int_at(i)) {
        if (t->is_int) t->ints[i] = b.int_at(i); else t->floats[i] = static_cast<float>(b.at(i));
      }
    return {t};
  }
  if (op == "Range") {
    const double s = need(n, in, 0).at(0), l = need(n, in, 1).at(0), d = need(n, in, 2).at(0);
    BL_CHECK(d != 0, "onnx: ", n.describe(), ": delta 0");
    const int64_t count = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
    BL_CHECK(count <= (int64_t{1} << 24), "onnx: ", n.describe(), ": range too long to fold");
    auto t = std::make_shared<ConstTensor>();
    t->dims = {count};
    t->is_int = in[0]->is_int;
    for (int64_t i = 0; i < count; ++i) {
      if (t->is_int) t->ints.push_back(static_cast<int64_t>(s + i * d)); else t->floats.push_back(static_cast<float>(s + i * d));
    }
    return {t};
  }
  if (op == "Floor" || op == "Ceil" || op == "Sqrt" || op == "Neg") {
    const ConstTensor& x = need(n, in, 0);
    auto t = std::make_shared<ConstTensor>(x);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = x.at(i);
      const double r = op == "Floor" ? std::floor(v) : op == "Ceil" ? std::ceil(v) : op == "Sqrt" ? std::sqrt(v) : -v;
      if (t->is_int) t->ints[i] = static_cast<int64_t>(r); else t->floats[i] = static_cast<float>(r);
    }
    return {t};
  }
  if (op == "Reshape" || op == "Flatten") {
    const ConstTensor& x = need(n, in, 0);
    Dims dims;
    if (op == "Flatten") {
      const int64_t axis = norm_axis(n, attr_int(n, "axis", 1), static_cast<int64_t>(x.dims.size()) + 1);
      dims = {numel_of(Dims(x.dims.begin(), x.dims.begin() + axis)), numel_of(Dims(x.dims.begin() + axis, x.dims.end()))};
    } else {
      const ConstTensor& s = need(n, in, 1);
      int64_t infer = -1, known = 1;
      for (int64_t i = 0; i < s.numel(); ++i) {
        int64_t d = s.int_at(i);
        if (d == 0 && i < static_cast<int64_t>(x.dims.size()) && !attr_int(n, "allowzero", 0)) d = x.dims[i];
        if (d == -1) infer = i; else known *= d;
        dims.push_back(d);
      }
      if (infer >= 0) dims[infer] = known ? x.numel() / known : 0;
    }
    BL_CHECK(numel_of(dims) == x.numel(), "onnx: ", n.describe(), ": reshape changes the element count");
    return {with_dims(x, dims)};
  }
  if (op == "Transpose" || op == "Expand") {
    const ConstTensor& x = need(n, in, 0);
    if (op == "Expand") {
      auto ones = std::make_shared<ConstTensor>();
      const ConstTensor& s = need(n, in, 1);
      for (int64_t i = 0; i < s.numel(); ++i) ones->dims.push_back(s.int_at(i));
      ones->is_int = true;
      ones->ints.assign(numel_of(ones->dims), 0);
      return {broadcast_binary(n, x, *ones, [](double a, double) { return a; }, x.is_int)};
    }
    const int64_t r = static_cast<int64_t>(x.dims.size());
    Dims perm = attr_ints(n, "perm");
    if (perm.empty())
      for (int64_t d = r - 1; d >= 0; --d) perm.push_back(d);
    BL_CHECK(static_cast<int64_t>(perm.size()) == r, "onnx: ", n.describe(), ": perm has ", perm.size(),
             " entries for rank ", r);
    Dims out(r), strides(r, 1);
    for (int64_t d = r - 2; d >= 0; --d) strides[d] = strides[d + 1] * x.dims[d + 1];
    for (int64_t d = 0; d < r; ++d) out[d] = x.dims[norm_axis(n, perm[d], r)];
    auto t = std::make_shared<ConstTensor>();
    t->dims = out;
    t->is_int = x.is_int;
    Dims idx(r, 0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t src = 0;
      for (int64_t d = 0; d < r; ++d) src += idx[d] * strides[norm_axis(n, perm[d], r)];
      if (x.is_int) t->ints.push_back(x.ints[src]); else t->floats.push_back(x.floats[src]);
      for (int64_t d = r - 1; d >= 0; --d) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
    return {t};
  }
  BL_THROW("onnx: ", n.describe(), ": cannot fold this op on constants");
}

}  // namespace backlight::onnx
