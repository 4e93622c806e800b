#pragma once
/// RuleSet: an ordered list of (matcher -> rule); the first match wins, unmatched nodes get the
/// fallback (the plain gradient unless set). A plain value: copyable, no global state, usable
/// from many threads and with many tapes at once.
///
///   RuleSet rs = RuleSet{}.when(first_with_params(), zbox(-3, 3))
///                         .when(kind(OpKind::Conv2d), gamma(0.25f))
///                         .when(name_glob("classifier.*"), epsilon());
#include <functional>
#include <string>
#include <vector>

#include "engine/rules/rule.h"

namespace backlight {

/// What a matcher sees: the node and its position on the tape.
struct MatchContext {
  const Tape& tape;
  int node_index;
  const Node& node() const { return tape.node(node_index); }
};

/// A predicate over nodes; combine with &&, ||, !.
class Matcher {
 public:
  using Fn = std::function<bool(const MatchContext&)>;
  Matcher(Fn fn, std::string description) : fn_(std::move(fn)), description_(std::move(description)) {}
  bool operator()(const MatchContext& m) const { return fn_(m); }
  const std::string& description() const { return description_; }

 private:
  Fn fn_;
  std::string description_;
};

Matcher operator&&(Matcher a, Matcher b);
Matcher operator||(Matcher a, Matcher b);
Matcher operator!(Matcher a);

/// Nodes of one op kind.
Matcher kind(OpKind k);
/// Nodes of any of the kinds.
Matcher any_kind(std::initializer_list<OpKind> kinds);
/// Nodes whose module path matches a glob ('*' any run of characters, '?' one character).
Matcher name_glob(std::string pattern);
/// The first node (in forward order) that has parameters, e.g. the first conv.
Matcher first_with_params();
/// The first node (in forward order) that `m` matches - Zennit's "first layer" maps.
Matcher first_matching(Matcher m);
/// Every node.
Matcher any_node();

class RuleSet {
 public:
  RuleSet();
  explicit RuleSet(std::string name);

  /// Appends a (matcher -> rule) entry; earlier entries take precedence.
  RuleSet& when(Matcher m, RulePtr rule) &;
  RuleSet&& when(Matcher m, RulePtr rule) &&;
  /// Rule for nodes no entry matches (default: the plain gradient).
  RuleSet& otherwise(RulePtr rule) &;
  RuleSet&& otherwise(RulePtr rule) &&;

  const std::string& name() const { return name_; }
  /// The rule for node i of the tape.
  const Rule& rule_for(const Tape& tape, int node_index) const;
  /// One line per node: index, kind, module path, rule, and the matcher that chose it
  /// ("fallback" for unmatched nodes) - to see what a rule set does to a model.
  std::string explain(const Tape& tape) const;

 private:
  struct Entry {
    Matcher matcher;
    RulePtr rule;
  };
  const Entry* match(const Tape& tape, int node_index) const;
  std::string name_;
  std::vector<Entry> entries_;
  RulePtr fallback_;
};

}  // namespace backlight
