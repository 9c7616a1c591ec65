#include "tools/cli_common.h"

#include "src/base/threads.h"

namespace tritium::cli {

int Fail(const Status& s) { return Fail(s.message()); }

int Fail(const std::string& message) {
  std::fprintf(stderr, "tritium: error: %s\n", message.c_str());
  return 1;
}

void PrintJson(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

void AddThreadsFlag(CLI::App* cmd, int* threads) {
  *threads = ThreadPool::HardwareThreads();
  // More threads than a few per core only slow a run down, and thousands fail to start.
  cmd->add_option("-t,--threads", *threads, "worker threads (default: all cores; at most 256)")
      ->check(CLI::Range(1, 256));
}

}  // namespace tritium::cli
