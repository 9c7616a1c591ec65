// Helpers shared by the end-to-end tests: locating ../shared assets (skipping loudly when they are
// absent), reading golden binaries, running the tritium binary.
#ifndef TRITIUM_TESTS_TEST_UTIL_H_
#define TRITIUM_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/base/paths.h"

namespace tritium::testing {

// Path of a shared asset, or "" (and the caller should GTEST_SKIP) if absent.
inline std::string Shared(const std::string& rel) {
  std::string p = SharedPath(rel);
  return FileExists(p) ? p : "";
}

#define TRITIUM_REQUIRE_SHARED(var, rel)                                                  \
  std::string var = ::tritium::testing::Shared(rel);                                      \
  if (var.empty()) {                                                                      \
    GTEST_SKIP() << "SKIPPED: shared asset missing: " << ::tritium::SharedPath(rel)       \
                 << " (set TRITIUM_SHARED to the shared/ folder)";                        \
  }

inline std::vector<float> ReadF32File(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << path;
  std::vector<float> v(s.ok() ? s->size() / 4 : 0);
  if (s.ok()) std::memcpy(v.data(), s->data(), v.size() * 4);
  return v;
}

inline nlohmann::json ReadJson(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << path;
  return s.ok() ? nlohmann::json::parse(*s) : nlohmann::json();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the tritium binary with `args` (a shell-quoted string), capturing stdout and stderr.
inline CommandResult RunTritium(const std::string& args) {
  // Unique per process and call: ctest runs test processes in parallel.
  static int calls = 0;
  std::string stem = ::testing::TempDir() + "/tritium_" + std::to_string(::getpid()) + "_" +
                     std::to_string(calls++);
  std::string out_path = stem + ".out", err_path = stem + ".err";
  std::string cmd = std::string(TRITIUM_BINARY) + " " + args + " >" + out_path + " 2>" + err_path +
                    " </dev/null";
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = ReadFileToString(out_path).value();
  r.err = ReadFileToString(err_path).value();
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

// A per-process path under the test temp dir: ctest runs test processes in parallel.
inline std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_" + name;
}

inline std::string Quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

}  // namespace tritium::testing

#endif  // TRITIUM_TESTS_TEST_UTIL_H_
