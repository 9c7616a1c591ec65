// Shared pieces of the tritium command line: error reporting, model loading, thread pools.
#ifndef TRITIUM_TOOLS_CLI_COMMON_H_
#define TRITIUM_TOOLS_CLI_COMMON_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "src/base/status.h"
#include "src/model/model.h"
#include "src/model/sampling.h"

namespace tritium::cli {

// Prints "tritium: error: <message>" and returns the exit code for it.
int Fail(const Status& s);
int Fail(const std::string& message);

// Registers every verb on `app`; each sets `*run` to the function that executes it.
void AddRunVerb(CLI::App& app, std::function<int()>* run);
void AddPplVerb(CLI::App& app, std::function<int()>* run);
void AddInspectVerb(CLI::App& app, std::function<int()>* run);
void AddQuantizeVerb(CLI::App& app, std::function<int()>* run);
void AddBenchVerb(CLI::App& app, std::function<int()>* run);
void AddImatrixVerb(CLI::App& app, std::function<int()>* run);
void AddSweepVerb(CLI::App& app, std::function<int()>* run);
void AddSynthVerb(CLI::App& app, std::function<int()>* run);
void AddChatVerb(CLI::App& app, std::function<int()>* run);
void AddServeVerb(CLI::App& app, std::function<int()>* run);

// One JSON object on stdout, one line. Invalid UTF-8 (a file name, a token piece) becomes U+FFFD
// instead of an exception: --json output never aborts a run.
void PrintJson(const nlohmann::json& j);

// The sampler's flags, the same for run, chat and serve (whose requests override them).
void AddSamplingFlags(CLI::App* cmd, SamplingParams* p);

// Adds -t/--threads (default: all cores) to a verb.
void AddThreadsFlag(CLI::App* cmd, int* threads);

}  // namespace tritium::cli

#endif  // TRITIUM_TOOLS_CLI_COMMON_H_
