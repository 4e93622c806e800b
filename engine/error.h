#pragma once
/// Errors: every failure in backlight is a backlight::Error whose message names the function,
/// what was expected and what arrived. BL_CHECK is always on (never compiled out), because it
/// guards user input; use assert() only for internal invariants.
#include <sstream>
#include <stdexcept>
#include <string>

namespace backlight {

/// Base of all backlight exceptions.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor arrived with a shape the op does not accept.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A rule or rule set could not be applied (unknown name, missing reference pass, ...).
class RuleError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

}  // namespace backlight

/// Throws backlight::Error (or the given subclass) with the concatenated message parts.
#define BL_THROW(...) throw ::backlight::Error(::backlight::detail::concat(__VA_ARGS__))
#define BL_CHECK(cond, ...)                                         \
  do {                                                              \
    if (!(cond)) BL_THROW(__VA_ARGS__);                             \
  } while (0)
#define BL_CHECK_SHAPE(cond, ...)                                                      \
  do {                                                                                 \
    if (!(cond)) throw ::backlight::ShapeError(::backlight::detail::concat(__VA_ARGS__)); \
  } while (0)
