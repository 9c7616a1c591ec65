// tritium: one binary, one verb per job (run, ppl, quantize, inspect, ...), in the manner of
// llama.cpp's tools. Everything real lives in the library; this file only parses flags.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

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
  tritium::cli::AddChatVerb(app, &run);
  tritium::cli::AddServeVerb(app, &run);
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string verbs;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == argv[1];
      verbs += (verbs.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "tritium: error: unknown command '%s' (commands: %s)\n", argv[1],
                   verbs.c_str());
      return 2;
    }
  }
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
  if (!run) return 2;
  // The library reports errors as Status; anything thrown is a defect, but the user still gets one
  // clear line and an exit code, never an abort.
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tritium: error: internal error: %s\n", e.what());
    return 1;
  }
}
