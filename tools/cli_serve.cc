// tritium serve: an OpenAI-compatible HTTP server (src/serve/server.h) on one model.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "src/serve/server.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct ServeArgs {
  std::string model, host = "127.0.0.1", api_key, alias, chat_template, tokenizer;
  int port = 8080;
  int threads = 0;
  int ctx = 0;
  int http_threads = 32;
  SamplingParams sampling;
};

int Serve(const ServeArgs& a) {
  TRITIUM_CHECK(a.threads > 0);
  if (Status s = a.sampling.Validate(); !s.ok()) return Fail(s);
  ServerOptions o;
  if (!a.chat_template.empty()) {
    auto t = ChatTemplateByName(a.chat_template);
    if (!t.ok()) return Fail(t.status());
    o.chat_template = *t;
  }
  // SIGINT/SIGTERM are taken by one thread with sigwait, so that stopping the server happens in
  // ordinary code, not in a signal handler. Blocked before any thread starts: all inherit it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up is an error on its socket, not our death
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  o.host = a.host;
  o.port = a.port;
  o.api_key = a.api_key;
  o.ctx = a.ctx;
  o.http_threads = a.http_threads;
  o.defaults = a.sampling;
  o.model_id = !a.alias.empty() ? a.alias : a.model.substr(a.model.find_last_of('/') + 1);
  if (o.model_id.empty()) o.model_id = a.model;
  ThreadPool pool(a.threads);
  Server server(model, &pool, o);
  if (Status s = server.Bind(); !s.ok()) return Fail(s);
  bool warn = false;
  const std::string& note = server.template_note(&warn);
  std::fprintf(stderr, "tritium: %s%s\n", warn ? "warning: " : "", note.c_str());
  if (a.host != "127.0.0.1" && a.host != "localhost" && a.host != "::1" && a.api_key.empty()) {
    std::fprintf(stderr, "tritium: warning: listening on %s without --api-key\n", a.host.c_str());
  }
  // The line scripts wait for: the address is live from here on.
  std::fprintf(stderr, "tritium: serving '%s' on http://%s:%d (%d threads)\n", o.model_id.c_str(),
               a.host.c_str(), server.port(), a.threads);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::fprintf(stderr, "tritium: %s, shutting down\n",
                 sig == SIGINT ? "interrupted" : "terminated");
    server.Stop();
  });
  Status st = server.Serve();
  // Serve returned (after a signal or an error): wake the waiter if it still waits.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!st.ok()) return Fail(st);
  return 0;
}

}  // namespace

void AddServeVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("--host", a->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", a->port, "port (default 8080; 0 = any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", a->api_key, "require \"Authorization: Bearer KEY\"");
  cmd->add_option("--alias", a->alias, "model name for /v1/models (default: the file name)");
  cmd->add_option("--chat-template", a->chat_template,
                  "template family overriding the model's: " + ChatTemplateNames());
  cmd->add_option("-c,--ctx", a->ctx, "context per request (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--http-threads", a->http_threads,
                  "concurrent connections, waiting ones included (default 32)")
      ->check(CLI::Range(2, 1024));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  AddSamplingFlags(cmd, &a->sampling);
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Serve(*a); }; });
}

}  // namespace tritium::cli
