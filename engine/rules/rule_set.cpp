#include "engine/rules/rule_set.h"

#include <sstream>

namespace backlight {

Matcher operator&&(Matcher a, Matcher b) {
  std::string d = "(" + a.description() + " && " + b.description() + ")";
  return Matcher([a = std::move(a), b = std::move(b)](const MatchContext& m) { return a(m) && b(m); }, d);
}

Matcher operator||(Matcher a, Matcher b) {
  std::string d = "(" + a.description() + " || " + b.description() + ")";
  return Matcher([a = std::move(a), b = std::move(b)](const MatchContext& m) { return a(m) || b(m); }, d);
}

Matcher operator!(Matcher a) {
  std::string d = "!" + a.description();
  return Matcher([a = std::move(a)](const MatchContext& m) { return !a(m); }, d);
}

Matcher kind(OpKind k) {
  return Matcher([k](const MatchContext& m) { return m.node().kind == k; }, "kind(" + std::string(to_string(k)) + ")");
}

Matcher any_kind(std::initializer_list<OpKind> kinds) {
  std::vector<OpKind> ks(kinds);
  std::string d = "kind(";
  for (size_t i = 0; i < ks.size(); ++i) d += (i ? "|" : "") + std::string(to_string(ks[i]));
  return Matcher(
      [ks](const MatchContext& m) {
        for (OpKind k : ks)
          if (m.node().kind == k) return true;
        return false;
      },
      d + ")");
}

namespace {
bool glob_match(std::string_view pat, std::string_view s) {
  // Iterative matcher with backtracking to the last '*': linear in practice, no recursion.
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++, mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1, i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}
}  // namespace

Matcher name_glob(std::string pattern) {
  std::string d = "name(" + pattern + ")";
  return Matcher([pattern = std::move(pattern)](const MatchContext& m) { return glob_match(pattern, m.node().name); },
                 d);
}

Matcher first_with_params() {
  return Matcher(
      [](const MatchContext& m) {
        for (int i = 0; i < m.tape.num_nodes(); ++i)
          if (m.tape.node(i).has_params) return i == m.node_index;
        return false;
      },
      "first_with_params");
}

Matcher first_matching(Matcher inner) {
  std::string d = "first(" + inner.description() + ")";
  return Matcher(
      [inner = std::move(inner)](const MatchContext& m) {
        for (int i = 0; i < m.tape.num_nodes(); ++i)
          if (inner(MatchContext{m.tape, i})) return i == m.node_index;
        return false;
      },
      d);
}

Matcher any_node() {
  return Matcher([](const MatchContext&) { return true; }, "any");
}

RuleSet::RuleSet() : RuleSet("custom") {}
RuleSet::RuleSet(std::string name) : name_(std::move(name)), fallback_(gradient_rule()) {}

RuleSet& RuleSet::when(Matcher m, RulePtr rule) & {
  BL_CHECK(rule, "RuleSet::when: null rule for matcher ", m.description());
  entries_.push_back({std::move(m), std::move(rule)});
  return *this;
}
RuleSet&& RuleSet::when(Matcher m, RulePtr rule) && { return std::move(when(std::move(m), std::move(rule))); }

RuleSet& RuleSet::otherwise(RulePtr rule) & {
  BL_CHECK(rule, "RuleSet::otherwise: null rule");
  fallback_ = std::move(rule);
  return *this;
}
RuleSet&& RuleSet::otherwise(RulePtr rule) && { return std::move(otherwise(std::move(rule))); }

const RuleSet::Entry* RuleSet::match(const Tape& tape, int node_index) const {
  MatchContext m{tape, node_index};
  for (const Entry& e : entries_)
    if (e.matcher(m)) return &e;
  return nullptr;
}

const Rule& RuleSet::rule_for(const Tape& tape, int node_index) const {
  const Entry* e = match(tape, node_index);
  return e ? *e->rule : *fallback_;
}

std::string RuleSet::explain(const Tape& tape) const {
  std::ostringstream os;
  for (int i = 0; i < tape.num_nodes(); ++i) {
    const Node& n = tape.node(i);
    const Entry* e = match(tape, i);
    os << i << "\t" << to_string(n.kind) << "\t" << (n.name.empty() ? "-" : n.name) << "\t"
       << (e ? e->rule->name() : fallback_->name()) << "\t" << (e ? e->matcher.description() : "fallback") << "\n";
  }
  return os.str();
}

}  // namespace backlight
