// Chat templates: the prompt text a chat model was trained on, for the families we render exactly
// (checked against goldens made by Jinja from the templates' own text, tests/data/chat/). A
// model's Jinja template is recognised by its family's markers, not interpreted: an unknown one
// is reported, and the caller falls back to a named family.
#ifndef TRITIUM_MODEL_CHAT_TEMPLATE_H_
#define TRITIUM_MODEL_CHAT_TEMPLATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/model/model.h"
#include "src/tokenizer/tokenizer.h"

namespace tritium {

enum class ChatTemplate {
  kLlama2,  // [INST] ... [/INST] with a <<SYS>> block (Llama-2-chat)
  kLlama3,  // <|start_header_id|>role<|end_header_id|> ... <|eot_id|> (Llama-3-Instruct)
  kChatMl,  // <|im_start|>role ... <|im_end|>, no default system prompt
  kQwen2,   // ChatML with Qwen2's default system prompt
  kQwen3,   // ChatML with <think> handling (enable_thinking)
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = true;       // Qwen3: false pre-fills an empty <think></think>
  std::string bos_token, eos_token;  // the vocabulary's pieces, as transformers passes them
};

// "llama2", "llama3", "chatml", "qwen2", "qwen3".
const char* ChatTemplateName(ChatTemplate t);
std::string ChatTemplateNames();  // "llama2, llama3, chatml, qwen2, qwen3"
StatusOr<ChatTemplate> ChatTemplateByName(std::string_view name);
// The family of a Jinja template text; NotFound when it is none we render.
StatusOr<ChatTemplate> DetectChatTemplate(std::string_view jinja);
// For a model without a usable template: the family whose control tokens the vocabulary has.
ChatTemplate FallbackChatTemplate(const Tokenizer& tok);

// The template for `model`: `override` when given, else the family of the model's own template,
// else FallbackChatTemplate. `note` says which and why; `*warn` is set when the model's template
// was absent or not recognised (the caller tells the user: that is a guess, not the model's).
ChatTemplate ResolveChatTemplate(const Model& model, std::optional<ChatTemplate> override,
                                 std::string* note, bool* warn);

// Renders a conversation. Roles other than system/user/assistant, and (Llama 2) turns that do not
// alternate user/assistant, are errors, as the templates raise them.
StatusOr<std::string> RenderChat(ChatTemplate t, const std::vector<ChatMessage>& messages,
                                 const ChatRenderOptions& opts);

// The bos/eos pieces of a tokenizer, for ChatRenderOptions ("" when it has none).
ChatRenderOptions DefaultRenderOptions(const Tokenizer& tok);

}  // namespace tritium

#endif  // TRITIUM_MODEL_CHAT_TEMPLATE_H_
