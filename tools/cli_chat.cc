// tritium chat: an interactive, multi-turn conversation with streaming answers. The KV cache is
// kept across turns: each turn feeds only what the template adds after the cached prefix.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <optional>

#include "src/base/threads.h"
#include "src/model/chat_template.h"
#include "src/model/forward.h"
#include "src/model/generate.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct ChatArgs {
  std::string model, system, chat_template, tokenizer;
  int n_predict = -1;
  int threads = 0;
  int ctx = 0;
  bool no_think = false;
  bool ignore_eos = false;
  SamplingParams sampling;
};

std::atomic<bool> g_generating{false};
std::atomic<bool> g_cancel{false};

// Ctrl-C stops the answer being written; at the prompt it ends the chat.
void OnSigint(int) {
  if (g_generating.load()) {
    g_cancel = true;
    return;
  }
  const char nl = '\n';
  (void)!write(STDOUT_FILENO, &nl, 1);
  _exit(130);
}

int Chat(const ChatArgs& a) {
  TRITIUM_CHECK(a.threads > 0);
  if (Status s = a.sampling.Validate(); !s.ok()) return Fail(s);
  std::optional<ChatTemplate> forced;
  if (!a.chat_template.empty()) {
    auto t = ChatTemplateByName(a.chat_template);
    if (!t.ok()) return Fail(t.status());
    forced = *t;
  }
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  const Tokenizer& tok = *model.tokenizer();
  std::string note;
  bool warn = false;
  const ChatTemplate tmpl = ResolveChatTemplate(model, forced, &note, &warn);
  std::fprintf(stderr, "%s%s\n", warn ? "tritium: warning: " : "tritium: ", note.c_str());
  const int64_t ctx = a.ctx > 0 ? a.ctx : std::min<int64_t>(model.config().max_positions, 4096);
  ThreadPool pool(a.threads);
  Session session(model, &pool, ctx);
  std::vector<int32_t> cached;
  std::vector<ChatMessage> messages;
  if (!a.system.empty()) messages.push_back({"system", a.system});
  ChatRenderOptions ro = DefaultRenderOptions(tok);
  ro.enable_thinking = !a.no_think;
  GenerateOptions go;
  go.eos_ids = EndOfGenerationIds(model);
  go.ignore_eos = a.ignore_eos;
  go.cancel = &g_cancel;
  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  const bool tty = isatty(STDIN_FILENO);
  if (tty)
    std::fprintf(stderr,
                 "Type a message; /exit to quit, /reset to start over, Ctrl-C stops an answer.\n");
  uint64_t turn = 0;
  for (;;) {
    if (tty) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages.resize(a.system.empty() ? 0 : 1);
      std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    auto text = RenderChat(tmpl, messages, ro);
    if (!text.ok()) {
      messages.pop_back();
      std::fprintf(stderr, "tritium: error: %s\n", text.status().message().c_str());
      continue;
    }
    const std::vector<int32_t> prompt = EncodeWithControlTokens(tok, *text);
    const int64_t room = ctx - static_cast<int64_t>(prompt.size());
    go.max_tokens = a.n_predict >= 0 ? std::min<int64_t>(a.n_predict, room) : room;
    if (room <= 0) {
      messages.pop_back();
      std::fprintf(stderr,
                   "tritium: error: the conversation (%zu tokens) no longer fits the context of "
                   "%lld tokens; /reset to start over\n",
                   prompt.size(), static_cast<long long>(ctx));
      continue;
    }
    SamplingParams sp = a.sampling;
    sp.seed = a.sampling.seed + turn++;
    Sampler sampler(sp);
    g_cancel = false;
    g_generating = true;
    auto r = Generate(&session, tok, &cached, prompt, &sampler, go, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    g_generating = false;
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!r.ok()) return Fail(r.status());
    messages.push_back({"assistant", r->text});
    const int64_t steps = std::max<int64_t>(0, static_cast<int64_t>(r->tokens.size()) - 1);
    std::fprintf(
        stderr,
        "[prompt %lld tokens (%lld reused from the cache) | %zu generated, %.1f tokens/s%s]\n",
        static_cast<long long>(r->prompt_tokens), static_cast<long long>(r->reused_tokens),
        r->tokens.size(), steps > 0 && r->generate_seconds > 0 ? steps / r->generate_seconds : 0.0,
        r->finish_reason == "cancelled" ? ", stopped" : "");
  }
  return 0;
}

}  // namespace

void AddChatVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "talk with a model (interactive, multi-turn)");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("-s,--system", a->system, "system prompt");
  cmd->add_option("--chat-template", a->chat_template,
                  "template family overriding the model's: " + ChatTemplateNames());
  cmd->add_flag("--no-think", a->no_think, "Qwen3: answer without a thinking block");
  cmd->add_option("-n,--n-predict", a->n_predict,
                  "most tokens per answer (default: what the context has left)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_flag("--ignore-eos", a->ignore_eos, "keep generating past end-of-text tokens");
  AddSamplingFlags(cmd, &a->sampling);
  cmd->add_option("-c,--ctx", a->ctx, "context length (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Chat(*a); }; });
}

}  // namespace tritium::cli
