/* tritium's C API: load a model (Hugging Face directory, GGUF, or llama2.c file), tokenize, run
 * the forward pass, generate with a callback, quantize. Stable: functions are only added; structs
 * passed by pointer carry their own size so that later fields can be added without breaking
 * callers built against this header.
 *
 * Errors: every function that can fail returns a tritium_status; on failure a message naming the
 * file and the problem is available from tritium_last_error() on the same thread, until that
 * thread's next failing call. Objects are not shared between threads unless stated: one session
 * per thread; a model may be used by several sessions at once.
 *
 * Link with `pkg-config --cflags --libs tritium`. */
#ifndef TRITIUM_TRITIUM_H_
#define TRITIUM_TRITIUM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRITIUM_API_VERSION 1

typedef enum tritium_status {
  TRITIUM_OK = 0,
  TRITIUM_INVALID_ARGUMENT = 1, /* a bad parameter from the caller */
  TRITIUM_NOT_FOUND = 2,        /* a missing file, key or tensor */
  TRITIUM_DATA_LOSS = 3,        /* a truncated or corrupted file */
  TRITIUM_UNIMPLEMENTED = 4,    /* valid input tritium does not support */
  TRITIUM_INTERNAL = 5,
  TRITIUM_IO_ERROR = 6,
  TRITIUM_CANCELLED = 7 /* a callback asked to stop */
} tritium_status;

typedef struct tritium_model tritium_model;
typedef struct tritium_session tritium_session;

/* The message of this thread's last failed call ("" if none). Valid until the next call. */
const char* tritium_last_error(void);
/* The library's version string, e.g. "0.1.0". */
const char* tritium_version(void);

/* ---- models ---- */
/* n_threads <= 0: every CPU this process may use. The model owns its worker threads.
 * tritium_model_load_with_tokenizer: a tokenizer file overriding the model's (NULL: the model's). */
tritium_status tritium_model_load(const char* path, int n_threads, tritium_model** out);
tritium_status tritium_model_load_with_tokenizer(const char* path, const char* tokenizer_path,
                                                int n_threads, tritium_model** out);
void tritium_model_free(tritium_model* model);
int32_t tritium_model_vocab_size(const tritium_model* model);
int32_t tritium_model_context_length(const tritium_model* model);
int32_t tritium_model_bos(const tritium_model* model); /* -1 if none */

/* ---- tokens ---- */
/* Writes at most `capacity` ids; *n_out is the number the text needs (call again with more room
 * when it exceeds capacity: TRITIUM_INVALID_ARGUMENT is returned then). add_bos: prepend BOS. */
tritium_status tritium_tokenize(const tritium_model* model, const char* text, int add_bos,
                                int32_t* ids, int32_t capacity, int32_t* n_out);
/* Text of ids, NUL-terminated, in a buffer the caller frees with tritium_free_string. */
tritium_status tritium_detokenize(const tritium_model* model, const int32_t* ids, int32_t n,
                                  char** text_out);
void tritium_free_string(char* s);

/* ---- the forward pass ---- */
/* A KV cache of max_context tokens (<= 0: the model's context length, at most 4096). */
tritium_status tritium_session_new(const tritium_model* model, int32_t max_context,
                                   tritium_session** out);
void tritium_session_free(tritium_session* session);
/* Forgets every token: the next forward starts at position 0. */
void tritium_session_reset(tritium_session* session);
/* Tokens held in the cache. */
int32_t tritium_session_position(const tritium_session* session);
/* Feeds n ids after the ones already in the cache; writes the logits of the last one
 * (vocab_size floats) to `logits` unless it is NULL. */
tritium_status tritium_forward(tritium_session* session, const int32_t* ids, int32_t n,
                               float* logits);

/* ---- generation ---- */
typedef struct tritium_generate_params {
  size_t struct_size;  /* sizeof(tritium_generate_params) */
  int32_t max_tokens;  /* default 128 */
  float temperature;   /* 0 = greedy; default 0.8 */
  int32_t top_k;       /* 0 = off; default 40 */
  float top_p;         /* 1 = off; default 0.95 */
  float min_p;         /* 0 = off (default) */
  float repeat_penalty; /* 1 = off (default) */
  uint64_t seed;       /* default 0 */
  int add_bos;         /* prepend BOS to the prompt; default 1 */
  int ignore_eos;      /* default 0 */
} tritium_generate_params;
tritium_generate_params tritium_generate_default_params(void);

/* Receives each piece of final text (UTF-8, not NUL-terminated, never split inside a character);
 * return nonzero to stop (tritium_generate then returns TRITIUM_CANCELLED). */
typedef int (*tritium_text_callback)(const char* piece, size_t len, void* user);

/* Generates from `prompt` (raw text; no chat template) in a fresh session. text_out (optional,
 * free with tritium_free_string) receives the generated text; n_tokens_out (optional) the number
 * of generated tokens. */
tritium_status tritium_generate(const tritium_model* model, const char* prompt,
                                const tritium_generate_params* params,
                                tritium_text_callback callback, void* user, char** text_out,
                                int32_t* n_tokens_out);

/* ---- quantization ---- */
typedef struct tritium_quantize_params {
  size_t struct_size;     /* sizeof(tritium_quantize_params) */
  const char* method;     /* "ptqtp" (default), "rtn", "gptq", "ptqtp-gptq", ... as the CLI */
  int32_t planes;         /* trit-planes K, default 2 */
  int32_t bits;           /* rtn/gptq bits, default 4 */
  int32_t group;          /* group size, default 128 */
  int32_t n_threads;      /* <= 0: every CPU */
  const char* calib_path; /* calibrated methods: text file; NULL = the default */
  int32_t calib_seqs;     /* calibrated methods: windows, default 64 */
  const char* tokenizer_path; /* a tokenizer file overriding the model's; NULL = the model's */
} tritium_quantize_params;
tritium_quantize_params tritium_quantize_default_params(void);

/* Quantizes the model at `input` into a tritium GGUF file at `output` (written to a temporary
 * name and renamed: no partial output on failure). */
tritium_status tritium_quantize(const char* input, const char* output,
                                const tritium_quantize_params* params);

#ifdef __cplusplus
}
#endif

#endif /* TRITIUM_TRITIUM_H_ */
