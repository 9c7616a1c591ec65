// An OpenAI-compatible HTTP server over one loaded model (cpp-httplib):
//   POST /v1/chat/completions, POST /v1/completions (streamed as server-sent events, or whole),
//   GET /v1/models, GET /health.
// Scheduling: requests are parsed and checked on the HTTP threads, then wait in a FIFO queue for
// the one generation worker (no batching: one sequence at a time, each with the whole thread
// pool). The worker keeps its KV cache between requests and reuses the longest common prompt
// prefix, as a multi-turn chat or a shared system prompt has.
#ifndef TRITIUM_SERVE_SERVER_H_
#define TRITIUM_SERVE_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/model/chat_template.h"
#include "src/model/model.h"
#include "src/model/sampling.h"

namespace tritium {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0 = any free port (see Server::port())
  std::string api_key;    // when set, "Authorization: Bearer KEY" is required
  std::string model_id;   // the name /v1/models lists and requests must use
  int64_t ctx = 0;        // context per request; 0 = the model's, at most 4096
  int http_threads = 32;  // concurrent connections (waiting requests hold one each)
  std::optional<ChatTemplate> chat_template;  // overrides the model's
  SamplingParams defaults;                    // for fields a request leaves out
};

class Server {
 public:
  // `pool` runs the forward passes. The model and pool outlive the server.
  Server(const Model& model, ThreadPool* pool, ServerOptions opts);
  ~Server();
  // Binds; after this, port() is the bound port.
  Status Bind();
  // Serves until Stop(); in-flight requests are cancelled.
  Status Serve();
  void Stop();
  int port() const;
  // The template used for chat and how it was chosen (for the startup line); `warn` when it is a
  // fallback rather than the model's own.
  const std::string& template_note(bool* warn) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tritium

#endif  // TRITIUM_SERVE_SERVER_H_
