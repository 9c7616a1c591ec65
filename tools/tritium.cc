// tritium: one binary, one verb per job (run, ppl, quantize, inspect, ...), in the manner of
// llama.cpp's tools. Everything real lives in the library; this file only parses flags.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>

#include "tools/cli_common.h"

int main(int argc, char** argv) {
  CLI::App app{"tritium: quantize LLMs to trit-planes and run them"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tritium 0.1.0");
  std::function<int()> run;
  tritium::cli::AddRunVerb(app, &run);
  tritium::cli::AddPplVerb(app, &run);
  tritium::cli::AddInspectVerb(app, &run);
  tritium::cli::AddQuantizeVerb(app, &run);
  tritium::cli::AddBenchVerb(app, &run);
  tritium::cli::AddImatrixVerb(app, &run);
  tritium::cli::AddSweepVerb(app, &run);
  tritium::cli::AddSynthVerb(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tritium: error: %s\n", e.what());
    std::fprintf(stderr, "Run with --help for usage.\n");
    return 2;
  }
  return run ? run() : 2;
}
