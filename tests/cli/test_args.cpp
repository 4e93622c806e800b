// The CLI flag parser: forms, repeated flags, typed getters and the errors that name the flag.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tools/cli/args.h"

using namespace backlight::cli;

namespace {

std::vector<FlagSpec> specs() {
  return {
      {.name = "image", .metavar = "FILE", .help = "input"},
      {.name = "steps", .metavar = "N", .help = "steps"},
      {.name = "alpha", .metavar = "X", .help = "alpha"},
      {.name = "rule", .metavar = "NAME", .help = "rules", .repeated = true},
      {.name = "json", .kind = FlagKind::Bool, .help = "json"},
  };
}

Args parse(std::vector<std::string> argv) { return parse_args("demo", argv, specs()); }

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("args: value flags in both forms, switches, repeats and positionals") {
  const Args a = parse({"--image", "a.png", "--steps=16", "--rule", "x", "--rule=y", "--json", "pos"});
  CHECK(a.get("image") == "a.png");
  CHECK(a.get_int("steps") == 16);
  CHECK(a.flag("json"));
  CHECK(a.get_all("rule") == std::vector<std::string>{"x", "y"});
  CHECK(a.positional() == std::vector<std::string>{"pos"});
  CHECK_FALSE(a.has("alpha"));
  CHECK_FALSE(a.get_double("alpha").has_value());
  CHECK(a.get_or("alpha", "0.5") == "0.5");
}

TEST_CASE("args: values may look like flags or be negative; -- ends flags") {
  const Args a = parse({"--alpha", "-2.5", "--image=--weird", "--", "--json"});
  CHECK(a.get_double("alpha") == doctest::Approx(-2.5));
  CHECK(a.get("image") == "--weird");
  CHECK_FALSE(a.flag("json"));
  CHECK(a.positional() == std::vector<std::string>{"--json"});
}

TEST_CASE("args: switches accept =true/=false") {
  CHECK_FALSE(parse({"--json=false"}).flag("json"));
  CHECK(parse({"--json=1"}).flag("json"));
  CHECK_THROWS_WITH_AS(parse({"--json=maybe"}), doctest::Contains("--json is a switch"), UsageError);
}

TEST_CASE("args: errors name the flag and the expected form") {
  CHECK_THROWS_WITH_AS(parse({"--bogus"}), doctest::Contains("unknown flag '--bogus'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--bogus=1"}), doctest::Contains("accepted: --image, --steps, --alpha, --rule, --json"),
                       UsageError);
  CHECK_THROWS_WITH_AS(parse({"-x"}), doctest::Contains("unknown flag '-x'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--image"}), doctest::Contains("--image expects a value (--image FILE)"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--image", "a", "--image", "b"}), doctest::Contains("--image given more than once"),
                       UsageError);
  CHECK_THROWS_WITH_AS(parse({"--steps", "ten"}).get_int("steps"),
                       doctest::Contains("--steps expects an integer (--steps N), got 'ten'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--steps", "3x"}).get_int("steps"), doctest::Contains("got '3x'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--alpha", "nan"}).get_double("alpha"),
                       doctest::Contains("--alpha expects a number (--alpha X)"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--alpha="}).get_double("alpha"), doctest::Contains("got ''"), UsageError);
}

TEST_CASE("args: UsageError is a backlight::Error; undeclared names are programming errors") {
  CHECK_THROWS_AS(parse({"--bogus"}), backlight::Error);
  CHECK_THROWS_AS(parse({}).get("nope"), std::logic_error);
}

TEST_CASE("args: help lines list every flag with its metavar") {
  const std::string help = format_flags(specs());
  CHECK(help.find("--image FILE") != std::string::npos);
  CHECK(help.find("--json ") != std::string::npos);
  CHECK(help.find("(repeatable)") != std::string::npos);
}

}  // TEST_SUITE
