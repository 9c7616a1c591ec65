/* The C API from C (C99, the installed header only): load llama.cpp's tiny Q4_0 file from
 * tests/data/ggml, tokenize, forward, generate with a callback that stops early, and the error
 * path. Built as C so that the header is checked to be C. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "include/tritium/tritium.h"

static int failed = 0, passed = 0;
#define CHECK(cond, what)                                  \
  do {                                                     \
    if (cond) {                                            \
      ++passed;                                            \
    } else {                                               \
      ++failed;                                            \
      fprintf(stderr, "FAIL %s (%s)\n", what, tritium_last_error()); \
    }                                                      \
  } while (0)

static int count_pieces(const char* piece, size_t len, void* user) {
  (void)piece;
  (void)len;
  int* n = (int*)user;
  return ++*n >= 3; /* stop after three pieces */
}

int main(void) {
  tritium_model* m = NULL;
  CHECK(tritium_model_load(TRITIUM_SOURCE_DIR "/tests/data/ggml/tiny-q4_0.gguf", 2, &m) ==
            TRITIUM_OK, "load");
  if (m == NULL) return 1;
  CHECK(tritium_model_vocab_size(m) == 512, "vocab_size");
  int32_t ids[64], n = 0;
  CHECK(tritium_tokenize(m, "Once upon a time", 1, ids, 64, &n) == TRITIUM_OK && n > 2 &&
            ids[0] == tritium_model_bos(m), "tokenize");
  int32_t small = 0;
  CHECK(tritium_tokenize(m, "Once upon a time", 1, ids, 1, &small) == TRITIUM_INVALID_ARGUMENT &&
            small == n, "tokenize reports the room it needs");
  char* text = NULL;
  CHECK(tritium_detokenize(m, ids, n, &text) == TRITIUM_OK && strcmp(text, "Once upon a time") == 0,
        "detokenize");
  tritium_free_string(text);

  tritium_session* s = NULL;
  CHECK(tritium_session_new(m, 64, &s) == TRITIUM_OK, "session");
  float logits[512], again[512];
  CHECK(tritium_forward(s, ids, n, logits) == TRITIUM_OK && tritium_session_position(s) == n,
        "forward");
  tritium_session_reset(s);
  /* Token by token through the cache gives the whole-prompt logits (to float rounding). */
  for (int32_t i = 0; i < n; ++i) tritium_forward(s, &ids[i], 1, again);
  float diff = 0;
  for (int i = 0; i < 512; ++i) diff = fmaxf(diff, fabsf(logits[i] - again[i]));
  CHECK(diff < 1e-3f, "incremental forward agrees");
  tritium_session_free(s);

  tritium_generate_params gp = tritium_generate_default_params();
  gp.max_tokens = 16;
  gp.temperature = 0;
  gp.ignore_eos = 1;
  int pieces = 0;
  int32_t generated = 0;
  CHECK(tritium_generate(m, "Once upon a time", &gp, count_pieces, &pieces, &text, &generated) ==
            TRITIUM_CANCELLED && pieces == 3 && generated < 16, "callback stops generation");
  tritium_free_string(text);
  CHECK(tritium_generate(m, "Once upon a time", &gp, NULL, NULL, &text, &generated) ==
            TRITIUM_OK && generated == 16 && strlen(text) > 0, "generate");
  tritium_free_string(text);
  tritium_model_free(m);

  tritium_model* bad = NULL;
  CHECK(tritium_model_load("/nonexistent/model.gguf", 1, &bad) == TRITIUM_NOT_FOUND && bad == NULL &&
            strstr(tritium_last_error(), "/nonexistent/model.gguf") != NULL, "missing file");
  tritium_quantize_params qp = tritium_quantize_default_params();
  qp.method = "nonsense";
  CHECK(tritium_quantize("x", "y", &qp) == TRITIUM_INVALID_ARGUMENT, "unknown method");
  printf("capi_test: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
