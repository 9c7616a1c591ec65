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
  cmd->add_option("-t,--threads", *threads,
                  "worker threads (default: the CPUs this process may use; at most 256)")
      ->check(CLI::Range(1, 256))
      ->each([](const std::string& v) {
        // More threads than CPUs time-slice against each other: every parallel region then
        // waits for a descheduled thread's chunk.
        const int cpus = ThreadPool::HardwareThreads();
        if (std::atoi(v.c_str()) > cpus) {
          std::fprintf(stderr,
                       "tritium: warning: -t %s is more than the %d CPUs this process may use; "
                       "expect it to be slower than -t %d\n",
                       v.c_str(), cpus, cpus);
        }
      });
}

}  // namespace tritium::cli

namespace tritium::cli {

void AddSamplingFlags(CLI::App* cmd, SamplingParams* p) {
  cmd->add_option("--temp", p->temperature, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", p->top_k, "top-k; 0 = off (default 40)");
  cmd->add_option("--top-p", p->top_p, "top-p in (0, 1]; 1 = off (default 0.95)");
  cmd->add_option("--min-p", p->min_p,
                  "min-p: drop tokens less likely than this times the best one; 0 = off (default)");
  cmd->add_option("--repeat-penalty", p->repeat_penalty,
                  "divide positive (multiply negative) logits of recent tokens; 1 = off (default)");
  cmd->add_option("--presence-penalty", p->presence_penalty,
                  "subtract from the logits of recent tokens, in [-2, 2] (default 0)");
  cmd->add_option("--frequency-penalty", p->frequency_penalty,
                  "subtract per occurrence in the recent tokens, in [-2, 2] (default 0)");
  cmd->add_option("--repeat-last-n", p->penalty_last_n,
                  "recent tokens the penalties look at, prompt included (default 64)");
  cmd->add_option("--seed", p->seed, "sampling seed (default 0)");
}

}  // namespace tritium::cli
