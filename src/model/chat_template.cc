#include "src/model/chat_template.h"

#include <algorithm>
#include <cstring>

namespace tritium {

namespace {

constexpr std::pair<ChatTemplate, const char*> kNames[] = {{ChatTemplate::kLlama2, "llama2"},
                                                           {ChatTemplate::kLlama3, "llama3"},
                                                           {ChatTemplate::kChatMl, "chatml"},
                                                           {ChatTemplate::kQwen2, "qwen2"},
                                                           {ChatTemplate::kQwen3, "qwen3"}};

// Concatenation without operator+ chains (GCC 12 warns falsely about those, -Wrestrict).
std::string Cat(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (std::string_view p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (std::string_view p : parts) out.append(p);
  return out;
}

bool Has(std::string_view s, std::string_view x) { return s.find(x) != std::string_view::npos; }

// Python's str.isspace for the characters a prompt meets (ASCII whitespace and separators).
bool IsPySpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// Python's str.strip() / str.strip(chars) / lstrip / rstrip.
std::string_view Strip(std::string_view s, bool left, bool right, const char* chars = nullptr) {
  auto drop = [&](char c) { return chars ? std::strchr(chars, c) != nullptr : IsPySpace(c); };
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && drop(s[b])) ++b;
  }
  if (right) {
    while (e > b && drop(s[e - 1])) --e;
  }
  return s.substr(b, e - b);
}

std::string RenderLlama2(const std::vector<ChatMessage>& m, const ChatRenderOptions& o,
                         Status* error) {
  size_t first = 0;
  const std::string* system = nullptr;
  if (!m.empty() && m[0].role == "system") {
    system = &m[0].content;
    first = 1;
  }
  std::string out;
  for (size_t i = first; i < m.size(); ++i) {
    const size_t k = i - first;
    if ((m[i].role == "user") != (k % 2 == 0)) {
      *error = InvalidArgumentError(
          "Conversation roles must alternate user/assistant/user/assistant/...");
      return {};
    }
    std::string content = m[i].content;
    if (k == 0 && system != nullptr) {
      content = Cat({"<<SYS>>\n", *system, "\n<</SYS>>\n\n", content});
    }
    if (m[i].role == "user") {
      out += Cat({o.bos_token, "[INST] ", Strip(content, true, true), " [/INST]"});
    } else if (m[i].role == "assistant") {
      out += Cat({" ", Strip(content, true, true), " ", o.eos_token});
    }
  }
  return out;
}

std::string RenderLlama3(const std::vector<ChatMessage>& m, const ChatRenderOptions& o) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0) out += o.bos_token;
    out += Cat({"<|start_header_id|>", m[i].role, "<|end_header_id|>\n\n",
                Strip(m[i].content, true, true), "<|eot_id|>"});
  }
  if (o.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string RenderChatMl(const std::vector<ChatMessage>& m, const ChatRenderOptions& o,
                         bool qwen2_system) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0 && qwen2_system && m[0].role != "system") {
      out += "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";
    }
    out += Cat({"<|im_start|>", m[i].role, "\n", m[i].content, "<|im_end|>\n"});
  }
  if (o.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Qwen3's template without tools: the reasoning of assistant turns after the last user query is
// kept (in a <think> block), earlier turns lose theirs.
std::string RenderQwen3(const std::vector<ChatMessage>& m, const ChatRenderOptions& o) {
  std::string out;
  if (!m.empty() && m[0].role == "system") {
    out += Cat({"<|im_start|>system\n", m[0].content, "<|im_end|>\n"});
  }
  // No tool messages reach here, so the last query is the last user message.
  size_t last_query = m.empty() ? 0 : m.size() - 1;
  for (size_t i = m.size(); i-- > 0;) {
    const std::string& c = m[i].content;
    const bool tool_response = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    if (m[i].role == "user" && !tool_response) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i != 0)) {
      out += Cat({"<|im_start|>", msg.role, "\n", msg.content, "<|im_end|>\n"});
    } else if (msg.role == "assistant") {
      std::string content = msg.content, reasoning;
      const size_t close = msg.content.find("</think>");
      if (close != std::string::npos) {
        const size_t last_close = msg.content.rfind("</think>");
        content = std::string(
            Strip(std::string_view(msg.content).substr(last_close + 8), true, false, "\n"));
        std::string_view before =
            Strip(std::string_view(msg.content).substr(0, close), false, true, "\n");
        const size_t open = before.rfind("<think>");
        if (open != std::string_view::npos) before = before.substr(open + 7);
        reasoning = std::string(Strip(before, true, false, "\n"));
      }
      const bool last = i + 1 == m.size();
      if (i > last_query && (last || !reasoning.empty())) {
        out += Cat({"<|im_start|>", msg.role, "\n<think>\n", Strip(reasoning, true, true, "\n"),
                    "\n</think>\n\n", Strip(content, true, false, "\n")});
      } else {
        out += Cat({"<|im_start|>", msg.role, "\n", content});
      }
      out += "<|im_end|>\n";
    }
  }
  if (o.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!o.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

bool HasControlPiece(const Tokenizer& tok, std::string_view piece) {
  const TokenizerVocab& v = tok.vocab();
  for (size_t i = 0; i < v.tokens.size() && i < v.token_types.size(); ++i) {
    if (v.tokens[i] == piece && (v.token_types[i] == 3 || v.token_types[i] == 4)) return true;
  }
  return false;
}

}  // namespace

const char* ChatTemplateName(ChatTemplate t) {
  for (const auto& [k, name] : kNames) {
    if (k == t) return name;
  }
  return "?";
}

std::string ChatTemplateNames() {
  std::string s;
  for (const auto& [k, name] : kNames) s += (s.empty() ? "" : ", ") + std::string(name);
  return s;
}

StatusOr<ChatTemplate> ChatTemplateByName(std::string_view name) {
  for (const auto& [k, n] : kNames) {
    if (name == n) return k;
  }
  return InvalidArgumentError("unknown chat template '" + std::string(name) +
                              "' (known: " + ChatTemplateNames() + ")");
}

StatusOr<ChatTemplate> DetectChatTemplate(std::string_view j) {
  if (Has(j, "<|im_start|>")) {
    if (Has(j, "<think>")) return ChatTemplate::kQwen3;
    if (Has(j, "You are a helpful assistant")) return ChatTemplate::kQwen2;
    return ChatTemplate::kChatMl;
  }
  if (Has(j, "<|start_header_id|>") && Has(j, "<|eot_id|>")) {
    // Llama 3.1+ add a dated system header and tool syntax we do not render.
    if (Has(j, "Cutting Knowledge Date")) {
      return NotFoundError("a Llama 3.1-style template (dated system header), not rendered here");
    }
    return ChatTemplate::kLlama3;
  }
  if (Has(j, "[INST]") && Has(j, "<<SYS>>")) return ChatTemplate::kLlama2;
  return NotFoundError("a chat template of no family rendered here (" + ChatTemplateNames() + ")");
}

ChatTemplate FallbackChatTemplate(const Tokenizer& tok) {
  if (HasControlPiece(tok, "<|im_start|>")) return ChatTemplate::kChatMl;
  if (HasControlPiece(tok, "<|start_header_id|>")) return ChatTemplate::kLlama3;
  return ChatTemplate::kLlama2;
}

StatusOr<std::string> RenderChat(ChatTemplate t, const std::vector<ChatMessage>& messages,
                                 const ChatRenderOptions& opts) {
  for (const ChatMessage& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      return InvalidArgumentError("unsupported message role '" + m.role +
                                  "' (supported: system, user, assistant)");
    }
  }
  switch (t) {
    case ChatTemplate::kLlama2: {
      Status error;
      std::string s = RenderLlama2(messages, opts, &error);
      if (!error.ok()) return error;
      return s;
    }
    case ChatTemplate::kLlama3:
      return RenderLlama3(messages, opts);
    case ChatTemplate::kChatMl:
      return RenderChatMl(messages, opts, false);
    case ChatTemplate::kQwen2:
      return RenderChatMl(messages, opts, true);
    case ChatTemplate::kQwen3:
      return RenderQwen3(messages, opts);
  }
  return InternalError("unknown chat template");
}

ChatTemplate ResolveChatTemplate(const Model& model, std::optional<ChatTemplate> override,
                                 std::string* note, bool* warn) {
  *warn = false;
  if (override.has_value()) {
    *note = std::string("chat template '") + ChatTemplateName(*override) + "' (--chat-template)";
    return *override;
  }
  const std::string& jinja = model.chat_template();
  if (!jinja.empty()) {
    auto t = DetectChatTemplate(jinja);
    if (t.ok()) {
      *note = std::string("chat template '") + ChatTemplateName(*t) + "' (the model's)";
      return *t;
    }
    const ChatTemplate f = FallbackChatTemplate(*model.tokenizer());
    *warn = true;
    *note = model.path() + ": the model's chat template is " + t.status().message() +
            "; falling back to '" + ChatTemplateName(f) +
            "' (choose one with --chat-template NAME: " + ChatTemplateNames() + ")";
    return f;
  }
  const ChatTemplate f = FallbackChatTemplate(*model.tokenizer());
  *warn = true;
  *note = model.path() + " has no chat template; using '" + ChatTemplateName(f) +
          "' (choose one with --chat-template NAME: " + ChatTemplateNames() + ")";
  return f;
}

ChatRenderOptions DefaultRenderOptions(const Tokenizer& tok) {
  ChatRenderOptions o;
  const TokenizerVocab& v = tok.vocab();
  auto piece = [&](int32_t id) {
    return id >= 0 && static_cast<size_t>(id) < v.tokens.size() ? v.tokens[id] : std::string();
  };
  o.bos_token = piece(tok.bos_id());
  o.eos_token = piece(tok.eos_id());
  return o;
}

}  // namespace tritium
