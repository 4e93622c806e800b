#include "models/onnx/names.h"

#include <cctype>
#include <set>

namespace backlight::onnx {

namespace {

std::vector<std::string> split_scopes(const std::string& name) {
  // "/a/b/Op" -> {"a", "b"} (the last component is the op's own name).
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= name.size()) {
    const size_t next = name.find('/', pos);
    if (next == std::string::npos) break;
    parts.push_back(name.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

// "relu_1" -> "relu" (only a trailing _<digits>).
std::string strip_call_suffix(const std::string& s) {
  const size_t us = s.rfind('_');
  if (us == std::string::npos || us + 1 == s.size()) return s;
  for (size_t i = us + 1; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return s;
  return s.substr(0, us);
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (c == '/' || c == '.' || c == ':') c = '_';
  while (!s.empty() && s.front() == '_') s.erase(s.begin());
  return s;
}

}  // namespace

std::vector<std::string> module_paths(const Graph& g) {
  // Scope paths as lists of local names, then the set of every scope prefix seen, so that a
  // "relu_1" whose sibling "relu" exists is recognised as a second call of that module.
  std::vector<std::vector<std::string>> locals(g.nodes.size());
  std::set<std::string> seen;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const std::string& name = g.nodes[k].name;
    if (name.empty() || name[0] != '/') continue;
    std::string prev, path;
    for (const std::string& part : split_scopes(name)) {
      // A Sequential's child is named "<parent>.<index>": keep only what follows the parent.
      std::string local = (!prev.empty() && part.size() > prev.size() + 1 && part.compare(0, prev.size(), prev) == 0 &&
                           part[prev.size()] == '.')
                              ? part.substr(prev.size() + 1)
                              : part;
      prev = part;
      locals[k].push_back(local);
      path += (path.empty() ? "" : ".") + local;
      seen.insert(path);
    }
  }
  std::vector<std::string> out(g.nodes.size());
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    if (!n.name.empty() && n.name[0] == '/') {
      std::string path, raw;
      for (const std::string& local : locals[k]) {
        raw += (raw.empty() ? "" : ".") + local;
        const std::string stripped = strip_call_suffix(local);
        const std::string candidate = path + (path.empty() ? "" : ".") + stripped;
        path = (stripped != local && seen.count(candidate)) ? candidate : path + (path.empty() ? "" : ".") + local;
      }
      out[k] = path;
      continue;
    }
    // Not a torch scope: the first weight's state-dict prefix, else the node's own name.
    std::string path;
    for (size_t i = 1; i < n.inputs.size() && path.empty(); ++i) {
      const std::string& in = n.inputs[i];
      if (!g.initializers.count(in)) continue;
      const size_t dot = in.rfind('.');
      if (dot != std::string::npos && dot > 0 && in.find(':') == std::string::npos) path = in.substr(0, dot);
    }
    if (path.empty()) path = n.name.empty() ? n.op_type + "_" + std::to_string(k) : sanitize(n.name);
    out[k] = path;
  }
  return out;
}

}  // namespace backlight::onnx
