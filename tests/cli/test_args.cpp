// The CLI flag parser: forms, repeated flags, typed getters and the errors that name the flag.
#include <doctest/doctest.h>

#include <cstdint>
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
  CHECK(a.get_int("steps", 1, 100) == 16);
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
  CHECK_THROWS_WITH_AS(parse({"--steps", "ten"}).get_int("steps", 1, 100),
                       doctest::Contains("demo: --steps expects an integer in [1, 100], got 'ten'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--steps", "3x"}).get_int("steps", 1, 100), doctest::Contains("got '3x'"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--alpha", "nan"}).get_double("alpha"),
                       doctest::Contains("--alpha expects a number (--alpha X)"), UsageError);
  CHECK_THROWS_WITH_AS(parse({"--alpha="}).get_double("alpha"), doctest::Contains("got ''"), UsageError);
}

TEST_CASE("args: integers beyond the range or the type are usage errors naming the flag, never wrapped") {
  // Each of these wrapped, clamped or was accepted by some flag before (issue 14).
  for (const char* bad : {"3000000000", "99999999999999999999", "-5", "0", "+5", " 5", "5 ", "", "0x10", "1e3"})
    CHECK_THROWS_WITH_AS(parse({"--steps", bad}).get_int("steps", 1, 2147483647),
                         doctest::Contains(("--steps expects an integer in [1, 2147483647], got '" + std::string(bad) +
                                            "'").c_str()),
                         UsageError);
  CHECK(parse({"--steps", "2147483647"}).get_int("steps", 1, 2147483647) == 2147483647);
  CHECK(parse({"--steps=-9223372036854775808"}).get_int("steps", INT64_MIN, 0) == INT64_MIN);
  CHECK_THROWS_AS(parse_int("9223372036854775808", INT64_MIN, INT64_MAX, "x"), UsageError);
  CHECK(parse_int("-7", -10, 10, "x") == -7);
}

TEST_CASE("args: lists reject empty items and trailing separators; int lists check each item") {
  CHECK(split_list("a,b", ',', "x") == std::vector<std::string>{"a", "b"});
  CHECK(split_list("a", ',', "x") == std::vector<std::string>{"a"});
  for (const char* bad : {"a,,b", "a,", ",a", "", ","})
    CHECK_THROWS_WITH_AS(split_list(bad, ',', "demo: --rule"), doctest::Contains("demo: --rule: empty item"),
                         UsageError);
  CHECK(parse_int_list("3x16x16", 'x', 1, 100, "x") == std::vector<int64_t>{3, 16, 16});
  CHECK_THROWS_WITH_AS(parse_int_list("64x", 'x', 1, 100, "demo: --size"), doctest::Contains("empty item 2 in '64x'"),
                       UsageError);
  CHECK_THROWS_WITH_AS(parse_int_list("64x0", 'x', 1, 100, "demo: --size"),
                       doctest::Contains("expects integers in [1, 100]"), UsageError);
  CHECK_THROWS_WITH_AS(parse_int_list("64xa", 'x', 1, 100, "demo: --size"), doctest::Contains("got '64xa'"),
                       UsageError);
  CHECK(parse({"--rule", "a,b"}).get_list("rule") == std::vector<std::string>{"a", "b"});
  CHECK_THROWS_AS(parse({"--rule", "a,,b"}).get_list("rule"), UsageError);
  CHECK_FALSE(parse({}).get_list("rule").has_value());
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
