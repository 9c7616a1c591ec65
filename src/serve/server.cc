#include "src/serve/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "src/io/json.h"
#include "src/model/forward.h"
#include "src/model/generate.h"

namespace tritium {

namespace {

using json = nlohmann::json;

// An OpenAI-style failure: HTTP status and the "error" object's fields.
struct ApiError {
  int http = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty = null
  std::string code;   // empty = null
};

json ErrorBody(const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return json{{"error", err}};
}

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.http;
  res.set_content(ErrorBody(e).dump(), "application/json");
}

// Compares without an early exit, so the time taken does not tell how much of a guess matched.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

// One request, shared by its HTTP thread (which waits on it) and the worker (which fills it).
struct Job {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  GenerateOptions gen;
  std::atomic<bool> cancel{false};

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> pieces;  // streamed text not yet sent
  bool done = false;
  StatusOr<GenerateResult> result = InternalError("not run");
};

}  // namespace

struct Server::Impl {
  const Model& model;
  ThreadPool* pool;
  ServerOptions opts;
  ChatTemplate tmpl;
  std::string template_note;
  bool template_warn = false;
  std::vector<int32_t> eos_ids;
  int64_t ctx;
  httplib::Server http;
  int bound_port = -1;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;
  std::shared_ptr<Job> current;  // the one generating
  bool stopping = false;
  std::thread worker;
  std::atomic<uint64_t> next_id{1};

  Impl(const Model& m, ThreadPool* p, ServerOptions o) : model(m), pool(p), opts(std::move(o)) {
    tmpl = ResolveChatTemplate(model, opts.chat_template, &template_note, &template_warn);
    eos_ids = EndOfGenerationIds(model);
    ctx = opts.ctx > 0 ? opts.ctx : std::min<int64_t>(model.config().max_positions, 4096);
  }

  void Work() {
    Session session(model, pool, ctx);
    std::vector<int32_t> cached;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) break;
        job = queue.front();
        queue.pop_front();
        current = job;
      }
      Sampler sampler(job->sampling);
      job->gen.cancel = &job->cancel;
      auto r = Generate(&session, *model.tokenizer(), &cached, job->prompt, &sampler, job->gen,
                        [&](std::string_view piece) {
                          std::lock_guard<std::mutex> lock(job->mu);
                          job->pieces.emplace_back(piece);
                          job->cv.notify_all();
                          return true;
                        });
      {
        std::lock_guard<std::mutex> lock(mu);
        current.reset();
      }
      std::lock_guard<std::mutex> lock(job->mu);
      job->result = std::move(r);
      job->done = true;
      job->cv.notify_all();
    }
    // Whatever still waits is told the server is going away.
    std::lock_guard<std::mutex> lock(mu);
    for (auto& job : queue) {
      std::lock_guard<std::mutex> jl(job->mu);
      job->result = InternalError("the server is shutting down");
      job->done = true;
      job->cv.notify_all();
    }
    queue.clear();
  }

  void Enqueue(const std::shared_ptr<Job>& job) {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) {
      std::lock_guard<std::mutex> jl(job->mu);
      job->result = InternalError("the server is shutting down");
      job->done = true;
      return;
    }
    queue.push_back(job);
    cv.notify_one();
  }

  bool Authorized(const httplib::Request& req, httplib::Response& res) {
    if (opts.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    const std::string want = "Bearer " + opts.api_key;
    if (ConstantTimeEquals(h, want)) return true;
    SendError(res, {401, "invalid or missing API key (send \"Authorization: Bearer KEY\")",
                    "invalid_request_error", "", "invalid_api_key"});
    return false;
  }

  // Reads the fields both endpoints share into `job`. Returns an error for the client.
  std::optional<ApiError> ReadCommon(const json& body, Job* job, bool* stream, bool* include_usage,
                                     int64_t* max_tokens) {
    auto bad = [](std::string msg, std::string param) {
      return ApiError{400, std::move(msg), "invalid_request_error", std::move(param), ""};
    };
    if (body.contains("model") && !body["model"].is_null()) {
      if (!body["model"].is_string()) return bad("'model' must be a string", "model");
      const std::string m = body["model"].get<std::string>();
      if (m != opts.model_id) {
        return ApiError{
            404, "The model '" + m + "' does not exist (this server has '" + opts.model_id + "')",
            "invalid_request_error", "model", "model_not_found"};
      }
    }
    auto number = [&](const char* key, float* out, double lo,
                      double hi) -> std::optional<ApiError> {
      if (!body.contains(key) || body[key].is_null()) return std::nullopt;
      if (!body[key].is_number()) return bad(std::string("'") + key + "' must be a number", key);
      const double v = body[key].get<double>();
      if (!(v >= lo && v <= hi)) {
        return bad(std::string("'") + key + "' must be in [" + json(lo).dump() + ", " +
                       json(hi).dump() + "], got " + body[key].dump(),
                   key);
      }
      *out = static_cast<float>(v);
      return std::nullopt;
    };
    auto integer = [&](const char* key, int64_t* out, int64_t lo,
                       int64_t hi) -> std::optional<ApiError> {
      if (!body.contains(key) || body[key].is_null()) return std::nullopt;
      if (!body[key].is_number_integer()) {
        return bad(std::string("'") + key + "' must be an integer", key);
      }
      const int64_t v = body[key].is_number_unsigned() && body[key].get<uint64_t>() > INT64_MAX
                            ? INT64_MAX
                            : body[key].get<int64_t>();
      if (v < lo || v > hi) {
        return bad(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "], got " + body[key].dump(),
                   key);
      }
      *out = v;
      return std::nullopt;
    };
    SamplingParams& s = job->sampling;
    s = opts.defaults;  // the server's flags, for fields the request leaves out
    for (auto e :
         {number("temperature", &s.temperature, 0, 2), number("top_p", &s.top_p, 0, 1),
          number("min_p", &s.min_p, 0, 1), number("presence_penalty", &s.presence_penalty, -2, 2),
          number("frequency_penalty", &s.frequency_penalty, -2, 2),
          number("repeat_penalty", &s.repeat_penalty, 1e-3, 100)}) {
      if (e) return e;
    }
    if (s.top_p == 0) return bad("'top_p' must be > 0", "top_p");
    int64_t top_k = s.top_k, seed = -1, n = 1, last_n = s.penalty_last_n;
    for (auto e :
         {integer("top_k", &top_k, 0, INT32_MAX), integer("seed", &seed, INT64_MIN, INT64_MAX),
          integer("n", &n, 1, 1), integer("repeat_last_n", &last_n, 0, 1 << 20)}) {
      if (e) return e;
    }
    s.top_k = static_cast<int>(top_k);
    s.penalty_last_n = static_cast<int>(last_n);
    if (body.contains("seed") && !body["seed"].is_null()) {
      s.seed = static_cast<uint64_t>(seed);
    } else {
      s.seed = std::random_device{}();
    }
    *max_tokens = -1;
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
      if (auto e = integer(key, max_tokens, 0, INT32_MAX)) return e;  // Fit checks the context
    }
    *stream = false;
    if (body.contains("stream") && !body["stream"].is_null()) {
      if (!body["stream"].is_boolean()) return bad("'stream' must be a boolean", "stream");
      *stream = body["stream"].get<bool>();
    }
    *include_usage = false;
    if (body.contains("stream_options") && body["stream_options"].is_object() &&
        body["stream_options"].contains("include_usage")) {
      const json& u = body["stream_options"]["include_usage"];
      if (!u.is_boolean())
        return bad("'stream_options.include_usage' must be a boolean", "stream_options");
      *include_usage = u.get<bool>();
    }
    if (body.contains("stop") && !body["stop"].is_null()) {
      const json& st = body["stop"];
      if (st.is_string()) {
        job->gen.stop.push_back(st.get<std::string>());
      } else if (st.is_array()) {
        for (const json& x : st) {
          if (!x.is_string()) return bad("'stop' must be a string or a list of strings", "stop");
          job->gen.stop.push_back(x.get<std::string>());
        }
      } else {
        return bad("'stop' must be a string or a list of strings", "stop");
      }
      for (const std::string& x : job->gen.stop) {
        if (x.empty()) return bad("'stop' strings must not be empty", "stop");
      }
    }
    if (body.contains("ignore_eos") && body["ignore_eos"].is_boolean()) {
      job->gen.ignore_eos = body["ignore_eos"].get<bool>();
    }
    if (body.contains("tools") && !body["tools"].is_null()) {
      return bad("'tools' (function calling) is not supported by this server", "tools");
    }
    if (body.contains("logprobs") && body["logprobs"].is_boolean() &&
        body["logprobs"].get<bool>()) {
      return bad("'logprobs' is not supported by this server", "logprobs");
    }
    if (Status st = s.Validate(); !st.ok()) return bad(st.message(), "");
    return std::nullopt;
  }

  // Budget and context check once the prompt is known.
  std::optional<ApiError> Fit(Job* job, int64_t max_tokens) {
    const int64_t p = static_cast<int64_t>(job->prompt.size());
    if (p == 0) return ApiError{400, "the prompt is empty", "invalid_request_error", "", ""};
    if (max_tokens < 0) max_tokens = ctx - p;
    if (p + max_tokens > ctx || max_tokens < 0) {
      return ApiError{400,
                      "This model's maximum context length is " + std::to_string(ctx) +
                          " tokens. However, you requested " +
                          std::to_string(p + std::max<int64_t>(max_tokens, 0)) + " tokens (" +
                          std::to_string(p) + " in the messages, " +
                          std::to_string(std::max<int64_t>(max_tokens, 0)) + " in the completion).",
                      "invalid_request_error", "messages", "context_length_exceeded"};
    }
    job->gen.max_tokens = max_tokens;
    job->gen.eos_ids = eos_ids;
    return std::nullopt;
  }

  void Handle(const httplib::Request& req, httplib::Response& res, bool chat) {
    if (!Authorized(req, res)) return;
    auto parsed = ParseJson(req.body, "request body");
    if (!parsed.ok()) {
      SendError(res, {400, "malformed JSON: " + parsed.status().message(), "invalid_request_error",
                      "", ""});
      return;
    }
    const json& body = *parsed;
    if (!body.is_object()) {
      SendError(res,
                {400, "the request body must be a JSON object", "invalid_request_error", "", ""});
      return;
    }
    auto job = std::make_shared<Job>();
    bool stream = false, include_usage = false;
    int64_t max_tokens = -1;
    if (auto e = ReadCommon(body, job.get(), &stream, &include_usage, &max_tokens)) {
      SendError(res, *e);
      return;
    }
    const Tokenizer& tok = *model.tokenizer();
    if (chat) {
      if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
        SendError(res, {400, "'messages' must be a non-empty list", "invalid_request_error",
                        "messages", ""});
        return;
      }
      std::vector<ChatMessage> messages;
      for (const json& m : body["messages"]) {
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
          SendError(res, {400, "each message needs a string 'role'", "invalid_request_error",
                          "messages", ""});
          return;
        }
        ChatMessage cm;
        cm.role = m["role"].get<std::string>();
        const json c = m.contains("content") ? m["content"] : json();
        if (c.is_string()) {
          cm.content = c.get<std::string>();
        } else if (c.is_array()) {  // content parts: only text ones
          for (const json& part : c) {
            if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
                !part["text"].is_string()) {
              SendError(res, {400, "only text content parts are supported", "invalid_request_error",
                              "messages", ""});
              return;
            }
            cm.content += part["text"].get<std::string>();
          }
        } else if (!c.is_null()) {
          SendError(res, {400, "message 'content' must be a string or a list of text parts",
                          "invalid_request_error", "messages", ""});
          return;
        }
        messages.push_back(std::move(cm));
      }
      ChatRenderOptions ro = DefaultRenderOptions(tok);
      if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object()) {
        const json& kw = body["chat_template_kwargs"];
        if (kw.contains("enable_thinking") && kw["enable_thinking"].is_boolean()) {
          ro.enable_thinking = kw["enable_thinking"].get<bool>();
        }
      }
      auto text = RenderChat(tmpl, messages, ro);
      if (!text.ok()) {
        SendError(res, {400, text.status().message(), "invalid_request_error", "messages", ""});
        return;
      }
      job->prompt = EncodeWithControlTokens(tok, *text);
    } else {
      std::string prompt;
      const json p = body.contains("prompt") ? body["prompt"] : json();
      if (p.is_string()) {
        prompt = p.get<std::string>();
      } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
        prompt = p[0].get<std::string>();
      } else {
        SendError(res, {400, "'prompt' must be a string (or a list of one string)",
                        "invalid_request_error", "prompt", ""});
        return;
      }
      job->prompt = tok.Encode(prompt, false);
      if (model.config().bos_id >= 0)
        job->prompt.insert(job->prompt.begin(), model.config().bos_id);
    }
    if (auto e = Fit(job.get(), max_tokens)) {
      SendError(res, *e);
      return;
    }
    const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
    const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    const std::string object = chat ? "chat.completion" : "text_completion";
    auto usage = [job](const GenerateResult& r) {
      const int64_t c = static_cast<int64_t>(r.tokens.size());
      return json{{"prompt_tokens", r.prompt_tokens},
                  {"completion_tokens", c},
                  {"total_tokens", r.prompt_tokens + c}};
    };
    auto finish = [](const GenerateResult& r) {
      return r.finish_reason == "length" ? "length" : "stop";
    };
    Enqueue(job);
    if (!stream) {
      std::unique_lock<std::mutex> lock(job->mu);
      job->cv.wait(lock, [&] { return job->done; });
      if (!job->result.ok()) {
        SendError(res, {500, job->result.status().message(), "server_error", "", ""});
        return;
      }
      const GenerateResult& r = *job->result;
      json choice = {{"index", 0}, {"finish_reason", finish(r)}};
      if (chat) {
        choice["message"] = {{"role", "assistant"}, {"content", r.text}};
      } else {
        choice["text"] = r.text;
        choice["logprobs"] = nullptr;
      }
      json out = {{"id", id},
                  {"object", object},
                  {"created", created},
                  {"model", opts.model_id},
                  {"choices", {choice}},
                  {"usage", usage(r)}};
      res.set_content(out.dump(), "application/json");
      return;
    }
    // Streaming: server-sent events, one chunk per piece of text, then the finish chunk, the
    // usage chunk when asked for, and [DONE].
    const std::string chunk_object = chat ? "chat.completion.chunk" : "text_completion";
    auto chunk = [=, this](const json& choice) {
      json c = {{"id", id},
                {"object", chunk_object},
                {"created", created},
                {"model", opts.model_id},
                {"choices", json::array({choice})}};
      return "data: " + c.dump() + "\n\n";
    };
    auto piece_choice = [chat](const std::string& text) {
      if (chat)
        return json{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}};
      return json{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    };
    auto started = std::make_shared<bool>(false);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [=, this](size_t, httplib::DataSink& sink) {
          if (chat && !*started) {
            *started = true;
            const std::string first =
                chunk(json{{"index", 0},
                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                           {"finish_reason", nullptr}});
            if (!sink.write(first.data(), first.size())) return false;
          }
          std::deque<std::string> pieces;
          bool done;
          {
            std::unique_lock<std::mutex> lock(job->mu);
            job->cv.wait(lock, [&] { return job->done || !job->pieces.empty(); });
            pieces.swap(job->pieces);
            done = job->done;
          }
          for (const std::string& p : pieces) {
            const std::string s = chunk(piece_choice(p));
            if (!sink.write(s.data(), s.size())) return false;
          }
          if (!done) return true;
          std::string tail;
          if (!job->result.ok()) {
            tail = "data: " +
                   ErrorBody({500, job->result.status().message(), "server_error", "", ""}).dump() +
                   "\n\n";
          } else {
            const GenerateResult& r = *job->result;
            json fin =
                chat ? json{{"index", 0}, {"delta", json::object()}, {"finish_reason", finish(r)}}
                     : json{{"index", 0},
                            {"text", ""},
                            {"logprobs", nullptr},
                            {"finish_reason", finish(r)}};
            tail = chunk(fin);
            if (include_usage) {
              json u = {{"id", id},
                        {"object", chunk_object},
                        {"created", created},
                        {"model", opts.model_id},
                        {"choices", json::array()},
                        {"usage", usage(r)}};
              tail += "data: " + u.dump() + "\n\n";
            }
          }
          tail += "data: [DONE]\n\n";
          if (!sink.write(tail.data(), tail.size())) return false;
          sink.done();
          return true;
        },
        [job](bool) { job->cancel = true; });  // a client that went away stops its generation
  }
};

Server::Server(const Model& model, ThreadPool* pool, ServerOptions opts)
    : impl_(std::make_unique<Impl>(model, pool, std::move(opts))) {
  Impl& s = *impl_;
  const int n = std::max(2, s.opts.http_threads);
  s.http.new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  s.http.set_payload_max_length(16u << 20);
  s.http.set_read_timeout(std::chrono::seconds(30));
  s.http.Post("/v1/chat/completions",
              [&s](const httplib::Request& q, httplib::Response& r) { s.Handle(q, r, true); });
  s.http.Post("/v1/completions",
              [&s](const httplib::Request& q, httplib::Response& r) { s.Handle(q, r, false); });
  s.http.Get("/v1/models", [&s](const httplib::Request& q, httplib::Response& r) {
    if (!s.Authorized(q, r)) return;
    json m = {
        {"id", s.opts.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "tritium"}};
    r.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
  });
  s.http.Get("/health", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(R"({"status":"ok"})", "application/json");
  });
  // Unknown paths and payloads too large get an error object too, not an empty body.
  s.http.set_error_handler([](const httplib::Request& q, httplib::Response& r) {
    if (!r.body.empty()) return;
    ApiError e{r.status, "", "invalid_request_error", "", ""};
    e.message = r.status == 404   ? "unknown endpoint " + q.method + " " + q.path
                : r.status == 413 ? "request body too large"
                                  : "HTTP error " + std::to_string(r.status);
    r.set_content(ErrorBody(e).dump(), "application/json");
  });
  s.http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& r, std::exception_ptr) {
        SendError(r, {500, "internal error", "server_error", "", ""});
      });
}

Server::~Server() {
  Stop();
  if (impl_->worker.joinable()) impl_->worker.join();
}

Status Server::Bind() {
  Impl& s = *impl_;
  if (s.opts.port == 0) {
    s.bound_port = s.http.bind_to_any_port(s.opts.host);
  } else {
    s.bound_port = s.http.bind_to_port(s.opts.host, s.opts.port) ? s.opts.port : -1;
  }
  if (s.bound_port < 0) {
    return IoError("cannot listen on " + s.opts.host + ":" + std::to_string(s.opts.port) +
                   " (address in use, or not an address of this machine)");
  }
  return OkStatus();
}

Status Server::Serve() {
  Impl& s = *impl_;
  s.worker = std::thread([&s] { s.Work(); });
  const bool ok = s.http.listen_after_bind();
  Stop();
  if (s.worker.joinable()) s.worker.join();
  return ok ? OkStatus() : IoError("the HTTP server stopped with an error");
}

void Server::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stopping = true;
    for (auto& job : s.queue) job->cancel = true;
    if (s.current) s.current->cancel = true;
    s.cv.notify_all();
  }
  s.http.stop();
}

int Server::port() const { return impl_->bound_port; }
const std::string& Server::template_note(bool* warn) const {
  *warn = impl_->template_warn;
  return impl_->template_note;
}

}  // namespace tritium
