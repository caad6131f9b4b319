// Shared helpers for ember's tests.
#pragma once

#include <doctest/doctest.h>

#include <string>

// Checks that `expr` throws `Exception` whose message contains `fragment`.
#define CHECK_THROWS_WITH_SUBSTR(expr, Exception, fragment)                              \
  do {                                                                                   \
    bool ember_thrown_ = false;                                                          \
    try {                                                                                \
      (void)(expr);                                                                      \
    } catch (const Exception& e) {                                                       \
      ember_thrown_ = true;                                                              \
      INFO("message: ", std::string(e.what()));                                          \
      CHECK(std::string(e.what()).find(fragment) != std::string::npos);                  \
    }                                                                                    \
    CHECK_MESSAGE(ember_thrown_, "expected " #Exception " from " #expr);                 \
  } while (0)

// gradcheck and gradgradcheck of `f` at the given inputs, each reported
// with its message on failure.
#define CHECK_GRAD_AND_GRADGRAD(f, ...)             \
  do {                                              \
    const auto g_ = gradcheck(f, __VA_ARGS__);      \
    CHECK_MESSAGE(g_.ok, g_.message);               \
    CHECK(g_.compared > 0);                         \
    const auto gg_ = gradgradcheck(f, __VA_ARGS__); \
    CHECK_MESSAGE(gg_.ok, gg_.message);             \
    CHECK(gg_.compared > 0);                        \
  } while (0)
