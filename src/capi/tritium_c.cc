// The C API (include/tritium/tritium.h) over the library: no C++ type or exception crosses it.
#include "include/tritium/tritium.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/base/threads.h"
#include "src/model/forward.h"
#include "src/model/generate.h"
#include "src/model/model.h"
#include "src/model/sampling.h"
#include "src/pipeline/calibration.h"
#include "src/pipeline/quantize_model.h"

struct tritium_model {
  std::unique_ptr<tritium::Model> model;
  // Sessions of one model share its pool; ThreadPool runs one parallel region at a time, so the
  // lock makes concurrent sessions take turns rather than interleave.
  std::unique_ptr<tritium::ThreadPool> pool;
  std::mutex pool_mu;
};

struct tritium_session {
  const tritium_model* owner;
  std::unique_ptr<tritium::Session> session;
};

namespace {

thread_local std::string g_last_error;

tritium_status Code(tritium::StatusCode c) {
  switch (c) {
    case tritium::StatusCode::kOk: return TRITIUM_OK;
    case tritium::StatusCode::kInvalidArgument: return TRITIUM_INVALID_ARGUMENT;
    case tritium::StatusCode::kNotFound: return TRITIUM_NOT_FOUND;
    case tritium::StatusCode::kDataLoss: return TRITIUM_DATA_LOSS;
    case tritium::StatusCode::kUnimplemented: return TRITIUM_UNIMPLEMENTED;
    case tritium::StatusCode::kIoError: return TRITIUM_IO_ERROR;
    default: return TRITIUM_INTERNAL;
  }
}

tritium_status Fail(const tritium::Status& s) {
  g_last_error = std::string(s.message());
  return Code(s.code());
}

tritium_status Fail(tritium_status code, const std::string& msg) {
  g_last_error = msg;
  return code;
}

char* CopyString(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// Every entry point catches what the standard library may throw (bad_alloc): nothing crosses C.
template <typename F>
tritium_status Guard(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Fail(TRITIUM_INTERNAL, std::string("internal error: ") + e.what());
  }
}

// Copies the first min(caller's struct_size, ours) bytes: older callers get defaults for fields
// they do not know.
template <typename T>
bool ReadParams(const T* in, T* out) {
  if (in == nullptr) return true;
  const size_t size = in->struct_size;
  if (size < sizeof(size_t) || size > (size_t{1} << 16)) return false;
  std::memcpy(out, in, std::min(size, sizeof(T)));
  out->struct_size = sizeof(T);
  return true;
}

}  // namespace

extern "C" {

const char* tritium_last_error(void) { return g_last_error.c_str(); }
const char* tritium_version(void) { return "0.1.0"; }

tritium_status tritium_model_load(const char* path, int n_threads, tritium_model** out) {
  return tritium_model_load_with_tokenizer(path, nullptr, n_threads, out);
}

tritium_status tritium_model_load_with_tokenizer(const char* path, const char* tokenizer_path,
                                                int n_threads, tritium_model** out) {
  if (path == nullptr || out == nullptr) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_model_load: path and out must not be NULL");
  }
  *out = nullptr;
  return Guard([&] {
    tritium::LoadOptions lo;
    lo.require_tokenizer = false;
    if (tokenizer_path != nullptr) lo.tokenizer_path = tokenizer_path;
    auto m = tritium::Model::Load(path, lo);
    if (!m.ok()) return Fail(m.status());
    auto h = std::make_unique<tritium_model>();
    h->model = std::move(*m);
    h->pool = std::make_unique<tritium::ThreadPool>(n_threads > 0 ? n_threads : 0);
    *out = h.release();
    return TRITIUM_OK;
  });
}

void tritium_model_free(tritium_model* model) { delete model; }

int32_t tritium_model_vocab_size(const tritium_model* model) {
  return model ? static_cast<int32_t>(model->model->config().vocab_size) : 0;
}
int32_t tritium_model_context_length(const tritium_model* model) {
  return model ? static_cast<int32_t>(model->model->config().max_positions) : 0;
}
int32_t tritium_model_bos(const tritium_model* model) {
  return model ? model->model->config().bos_id : -1;
}

tritium_status tritium_tokenize(const tritium_model* model, const char* text, int add_bos,
                                int32_t* ids, int32_t capacity, int32_t* n_out) {
  if (model == nullptr || text == nullptr || n_out == nullptr || (ids == nullptr && capacity > 0)) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_tokenize: NULL argument");
  }
  if (model->model->tokenizer() == nullptr) {
    return Fail(TRITIUM_NOT_FOUND, "tritium_tokenize: the model has no tokenizer");
  }
  return Guard([&] {
    std::vector<int32_t> v = model->model->tokenizer()->Encode(text, false);
    const int32_t bos = model->model->config().bos_id;
    if (add_bos && bos >= 0) v.insert(v.begin(), bos);
    *n_out = static_cast<int32_t>(v.size());
    if (*n_out > capacity) {
      return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_tokenize: the text needs " +
                                                std::to_string(v.size()) + " ids, capacity is " +
                                                std::to_string(capacity));
    }
    std::copy(v.begin(), v.end(), ids);
    return TRITIUM_OK;
  });
}

tritium_status tritium_detokenize(const tritium_model* model, const int32_t* ids, int32_t n,
                                  char** text_out) {
  if (model == nullptr || text_out == nullptr || (ids == nullptr && n > 0) || n < 0) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_detokenize: bad argument");
  }
  if (model->model->tokenizer() == nullptr) {
    return Fail(TRITIUM_NOT_FOUND, "tritium_detokenize: the model has no tokenizer");
  }
  const int32_t vocab = tritium_model_vocab_size(model);
  for (int32_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_detokenize: id " + std::to_string(ids[i]) +
                                                " is outside the vocabulary of " +
                                                std::to_string(vocab));
    }
  }
  return Guard([&] {
    *text_out = CopyString(model->model->tokenizer()->Decode(std::vector<int32_t>(ids, ids + n)));
    return *text_out ? TRITIUM_OK : Fail(TRITIUM_INTERNAL, "out of memory");
  });
}

void tritium_free_string(char* s) { std::free(s); }

tritium_status tritium_session_new(const tritium_model* model, int32_t max_context,
                                   tritium_session** out) {
  if (model == nullptr || out == nullptr) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_session_new: NULL argument");
  }
  *out = nullptr;
  return Guard([&] {
    const int64_t model_ctx = model->model->config().max_positions;
    int64_t ctx = max_context > 0 ? max_context : std::min<int64_t>(model_ctx, 4096);
    if (ctx > model_ctx) {
      return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_session_new: context " +
                                                std::to_string(ctx) + " exceeds the model's " +
                                                std::to_string(model_ctx));
    }
    auto s = std::make_unique<tritium_session>();
    s->owner = model;
    s->session = std::make_unique<tritium::Session>(*model->model, model->pool.get(), ctx);
    *out = s.release();
    return TRITIUM_OK;
  });
}

void tritium_session_free(tritium_session* session) { delete session; }
void tritium_session_reset(tritium_session* session) {
  if (session != nullptr) session->session->Reset();
}
int32_t tritium_session_position(const tritium_session* session) {
  return session ? static_cast<int32_t>(session->session->pos()) : 0;
}

tritium_status tritium_forward(tritium_session* session, const int32_t* ids, int32_t n,
                               float* logits) {
  if (session == nullptr || ids == nullptr || n <= 0) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_forward: need a session and n > 0 ids");
  }
  return Guard([&] {
    std::vector<float> out;
    tritium::Status s;
    {
      std::lock_guard<std::mutex> lock(const_cast<tritium_model*>(session->owner)->pool_mu);
      s = session->session->Forward(ids, n, /*all_logits=*/false, &out);
    }
    if (!s.ok()) return Fail(s);
    if (logits != nullptr) std::memcpy(logits, out.data(), out.size() * sizeof(float));
    return TRITIUM_OK;
  });
}

tritium_generate_params tritium_generate_default_params(void) {
  tritium_generate_params p;
  std::memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  const tritium::SamplingParams d;
  p.max_tokens = 128;
  p.temperature = d.temperature;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.seed = d.seed;
  p.add_bos = 1;
  p.ignore_eos = 0;
  return p;
}

tritium_status tritium_generate(const tritium_model* model, const char* prompt,
                                const tritium_generate_params* params,
                                tritium_text_callback callback, void* user, char** text_out,
                                int32_t* n_tokens_out) {
  if (model == nullptr || prompt == nullptr) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_generate: NULL model or prompt");
  }
  if (text_out != nullptr) *text_out = nullptr;
  tritium_generate_params p = tritium_generate_default_params();
  if (!ReadParams(params, &p)) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_generate: params->struct_size is not set");
  }
  const tritium::Tokenizer* tok = model->model->tokenizer();
  if (tok == nullptr) return Fail(TRITIUM_NOT_FOUND, "tritium_generate: the model has no tokenizer");
  if (p.max_tokens < 0) return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_generate: max_tokens < 0");
  return Guard([&] {
    tritium::SamplingParams sp;
    sp.temperature = p.temperature;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repeat_penalty = p.repeat_penalty;
    sp.seed = p.seed;
    if (tritium::Status s = sp.Validate(); !s.ok()) return Fail(s);
    std::vector<int32_t> ids = tok->Encode(prompt, false);
    const int32_t bos = model->model->config().bos_id;
    if (p.add_bos && bos >= 0) ids.insert(ids.begin(), bos);
    if (ids.empty()) return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_generate: empty prompt");
    const int64_t ctx = std::min<int64_t>(model->model->config().max_positions,
                                          static_cast<int64_t>(ids.size()) + p.max_tokens + 1);
    tritium::Session session(*model->model, model->pool.get(), ctx);
    tritium::Sampler sampler(sp);
    tritium::GenerateOptions go;
    go.max_tokens = p.max_tokens;
    go.ignore_eos = p.ignore_eos != 0;
    go.eos_ids = tritium::EndOfGenerationIds(*model->model);
    std::vector<int32_t> cached;
    bool stopped = false;
    std::lock_guard<std::mutex> lock(const_cast<tritium_model*>(model)->pool_mu);
    auto r = tritium::Generate(&session, *tok, &cached, ids, &sampler, go,
                               [&](std::string_view piece) {
                                 if (callback != nullptr &&
                                     callback(piece.data(), piece.size(), user) != 0) {
                                   stopped = true;
                                   return false;
                                 }
                                 return true;
                               });
    if (!r.ok()) return Fail(r.status());
    if (n_tokens_out != nullptr) *n_tokens_out = static_cast<int32_t>(r->tokens.size());
    if (text_out != nullptr) *text_out = CopyString(r->text);
    if (stopped) return Fail(TRITIUM_CANCELLED, "tritium_generate: stopped by the callback");
    return TRITIUM_OK;
  });
}

tritium_quantize_params tritium_quantize_default_params(void) {
  tritium_quantize_params p;
  std::memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  const tritium::QuantOptions d;
  p.method = "ptqtp";
  p.planes = d.planes;
  p.bits = d.bits;
  p.group = d.group;
  p.n_threads = 0;
  p.calib_path = nullptr;
  p.calib_seqs = 64;
  p.tokenizer_path = nullptr;
  return p;
}

tritium_status tritium_quantize(const char* input, const char* output,
                                const tritium_quantize_params* params) {
  if (input == nullptr || output == nullptr) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_quantize: NULL input or output path");
  }
  tritium_quantize_params p = tritium_quantize_default_params();
  if (!ReadParams(params, &p)) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_quantize: params->struct_size is not set");
  }
  const std::string method = p.method ? p.method : "ptqtp";
  if (tritium::FindMethod(method) == nullptr) {
    return Fail(TRITIUM_INVALID_ARGUMENT, "tritium_quantize: unknown method '" + method + "'");
  }
  return Guard([&] {
    tritium::LoadOptions lo;
    lo.allow_nonfinite_weights = true;
    lo.require_tokenizer = false;
    if (p.tokenizer_path != nullptr) lo.tokenizer_path = p.tokenizer_path;
    auto m = tritium::Model::Load(input, lo);
    if (!m.ok()) return Fail(m.status());
    tritium::QuantizeModelOptions opts;
    opts.quant.method = method;
    opts.quant.planes = p.planes;
    opts.quant.bits = p.bits;
    opts.quant.group = p.group;
    std::unique_ptr<tritium::CalibrationText> calib;
    if (tritium::MethodCalibrationNeed(method) != tritium::CalibrationNeed::kNone) {
      if ((*m)->tokenizer() == nullptr) {
        return Fail(TRITIUM_INVALID_ARGUMENT,
                    std::string(input) + ": calibration needs the model's tokenizer");
      }
      tritium::CalibrationOptions co;
      if (p.calib_path != nullptr) co.text_path = p.calib_path;
      if (p.calib_seqs > 0) co.seqs = p.calib_seqs;
      auto c = tritium::LoadCalibrationText(*(*m)->tokenizer(), co);
      if (!c.ok()) return Fail(c.status());
      calib = std::make_unique<tritium::CalibrationText>(std::move(*c));
      opts.calib = calib.get();
    }
    tritium::ThreadPool pool(p.n_threads > 0 ? p.n_threads : 0);
    auto r = tritium::QuantizeModel(**m, output, opts, &pool);
    if (!r.ok()) return Fail(r.status().WithPrefix(std::string(input) + ": "));
    return TRITIUM_OK;
  });
}

}  // extern "C"
