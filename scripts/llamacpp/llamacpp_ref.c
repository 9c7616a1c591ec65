// A measuring harness over llama.cpp's public C API (libllama from the npm registry package
// @node-llama-cpp/linux-x64; scripts/llamacpp/setup.sh unpacks it outside the repo). It exists so
// that the numbers we compare against are llama.cpp's own: its quantizer makes the files, its
// forward pass scores them. Declarations are written here from the API's documented names; only
// the leading, long-stable fields of the parameter structs are touched, and the structs are
// over-allocated so a newer library's extra fields land in owned memory.
//
//   llamacpp_ref quantize IN.gguf OUT.gguf FTYPE [THREADS]
//   llamacpp_ref ppl MODEL.gguf TEXT CTX CHUNKS [THREADS] [LOGITS_OUT]
//   llamacpp_ref logits MODEL.gguf ID,ID,... OUT.f32
//   llamacpp_ref bench MODEL.gguf PROMPT GEN THREADS
//
// bench measures as `tritium bench` does: after one warm-up round, one prefill of PROMPT tokens from
// an empty cache, and GEN single-token decode steps from an empty cache; prints tokens per second.
// logits runs the token ids as one batch from position 0 and writes every position's logits
// (float32, [n_ids x n_vocab] row-major) to OUT.f32.
//
// ppl follows tritium's protocol (src/eval/perplexity.h): BOS + the whole file tokenized once,
// non-overlapping windows of CTX tokens, each a fresh pass from position 0 starting with BOS, the
// second half of each window scored. LOGITS_OUT, if given, receives the scored rows' logits (float32) for KLD.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int32_t llama_token;
struct llama_model;
struct llama_context;
struct llama_vocab;
typedef struct llama_memory_i* llama_memory_t;

// Opaque, over-allocated parameter blocks (see the header comment).
typedef struct { uint32_t u[128]; } params_block;

struct llama_batch {
  int32_t n_tokens;
  llama_token* token;
  float* embd;
  int32_t* pos;
  int32_t* n_seq_id;
  int32_t** seq_id;
  int8_t* logits;
};

extern void ggml_backend_load_all_from_path(const char* dir);
extern void llama_backend_init(void);
extern params_block llama_model_default_params(void);
extern params_block llama_context_default_params(void);
extern params_block llama_model_quantize_default_params(void);
extern struct llama_model* llama_model_load_from_file(const char* path, params_block p);
extern struct llama_context* llama_init_from_model(struct llama_model* m, params_block p);
extern const struct llama_vocab* llama_model_get_vocab(const struct llama_model* m);
extern int32_t llama_vocab_n_tokens(const struct llama_vocab* v);
extern llama_token llama_vocab_bos(const struct llama_vocab* v);
extern int32_t llama_tokenize(const struct llama_vocab* v, const char* text, int32_t len,
                              llama_token* out, int32_t n_max, _Bool add_special,
                              _Bool parse_special);
extern int32_t llama_decode(struct llama_context* c, struct llama_batch b);
extern float* llama_get_logits_ith(struct llama_context* c, int32_t i);
extern llama_memory_t llama_get_memory(const struct llama_context* c);
extern void llama_memory_clear(llama_memory_t m, _Bool data);
extern uint32_t llama_model_quantize(const char* in, const char* out, const params_block* p);

static char* ReadFile(const char* path, long* n) {
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
  fseek(f, 0, SEEK_END);
  *n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = malloc(*n + 1);
  if (fread(buf, 1, *n, f) != (size_t)*n) { fprintf(stderr, "short read %s\n", path); exit(1); }
  buf[*n] = 0;
  fclose(f);
  return buf;
}

static int Quantize(int argc, char** argv) {
  if (argc < 5) return 2;
  params_block p = llama_model_quantize_default_params();
  p.u[0] = argc > 5 ? (uint32_t)atoi(argv[5]) : 2;  // nthread
  p.u[1] = (uint32_t)atoi(argv[4]);                 // ftype
  // allow_requantize, the first of the bool fields after the four enums: lets a quantized input
  // through (with FTYPE 0, ALL_F32, llama.cpp writes its own dequantization of every tensor).
  ((uint8_t*)&p.u[4])[0] = 1;
  uint32_t rc = llama_model_quantize(argv[2], argv[3], &p);
  if (rc != 0) { fprintf(stderr, "llama_model_quantize failed: %u\n", rc); return 1; }
  return 0;
}

static int Ppl(int argc, char** argv) {
  if (argc < 6) return 2;
  const int ctx = atoi(argv[4]), chunks = atoi(argv[5]);
  const int threads = argc > 6 ? atoi(argv[6]) : 2;
  FILE* logits_out = argc > 7 ? fopen(argv[7], "wb") : NULL;
  params_block mp = llama_model_default_params();
  struct llama_model* model = llama_model_load_from_file(argv[2], mp);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
  params_block cp = llama_context_default_params();
  cp.u[0] = ctx;  // n_ctx
  cp.u[1] = ctx;  // n_batch
  cp.u[2] = ctx;  // n_ubatch
  cp.u[3] = 1;    // n_seq_max
  // The thread counts follow fields that newer releases added; find them as the pair holding
  // ggml's default of 4 threads rather than trusting an offset.
  int t = 4;
  while (t < 16 && !(cp.u[t] == 4 && cp.u[t + 1] == 4)) ++t;
  if (t == 16) { fprintf(stderr, "cannot find n_threads in llama_context_params\n"); return 1; }
  cp.u[t] = threads;
  cp.u[t + 1] = threads;
  struct llama_context* c = llama_init_from_model(model, cp);
  if (!c) { fprintf(stderr, "cannot make a context\n"); return 1; }
  const struct llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  long n;
  char* text = ReadFile(argv[3], &n);
  int32_t max_ids = (int32_t)n + 16;
  llama_token* ids = malloc(sizeof(llama_token) * max_ids);
  int32_t n_ids = llama_tokenize(vocab, text, (int32_t)n, ids, max_ids, 1, 0);
  if (n_ids < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
  int windows = n_ids / ctx;
  if (chunks > 0 && chunks < windows) windows = chunks;
  struct llama_batch b;
  b.n_tokens = ctx;
  b.token = malloc(sizeof(llama_token) * ctx);
  b.embd = NULL;
  b.pos = malloc(sizeof(int32_t) * ctx);
  b.n_seq_id = malloc(sizeof(int32_t) * ctx);
  b.seq_id = malloc(sizeof(int32_t*) * ctx);
  b.logits = malloc(ctx);
  int32_t seq0 = 0;
  double nll = 0;
  long scored = 0;
  for (int w = 0; w < windows; ++w) {
    llama_memory_clear(llama_get_memory(c), 1);
    for (int i = 0; i < ctx; ++i) {
      b.token[i] = ids[w * ctx + i];
      b.pos[i] = i;
      b.n_seq_id[i] = 1;
      b.seq_id[i] = &seq0;
      b.logits[i] = 1;
    }
    b.token[0] = llama_vocab_bos(vocab);  // llama-perplexity's window start, as tritium's ppl
    if (llama_decode(c, b) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
    for (int i = ctx / 2; i < ctx - 1; ++i) {
      const float* l = llama_get_logits_ith(c, i);
      double mx = l[0];
      for (int v = 1; v < n_vocab; ++v) mx = l[v] > mx ? l[v] : mx;
      double s = 0;
      for (int v = 0; v < n_vocab; ++v) s += exp(l[v] - mx);
      nll -= l[b.token[i + 1]] - mx - log(s);
      ++scored;
      if (logits_out) fwrite(l, sizeof(float), n_vocab, logits_out);
    }
    fprintf(stderr, "\rwindow %d/%d", w + 1, windows);
  }
  fprintf(stderr, "\n");
  if (logits_out) fclose(logits_out);
  printf("{\"tokens\": %d, \"windows\": %d, \"scored\": %ld, \"nll\": %.9f, \"ppl\": %.9f}\n", n_ids,
         windows, scored, nll / scored, exp(nll / scored));
  return 0;
}

static int Logits(int argc, char** argv) {
  if (argc < 5) return 2;
  int n = 1;
  for (const char* c = argv[3]; *c; ++c) n += *c == ',';
  llama_token* ids = malloc(sizeof(llama_token) * n);
  char* end = argv[3];
  for (int i = 0; i < n; ++i) ids[i] = (llama_token)strtol(end + (i > 0), &end, 10);
  params_block mp = llama_model_default_params();
  struct llama_model* model = llama_model_load_from_file(argv[2], mp);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
  params_block cp = llama_context_default_params();
  cp.u[0] = 512;
  cp.u[1] = 512;
  cp.u[2] = 512;
  cp.u[3] = 1;
  struct llama_context* c = llama_init_from_model(model, cp);
  if (!c) { fprintf(stderr, "cannot make a context\n"); return 1; }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  struct llama_batch b;
  b.n_tokens = n;
  b.token = ids;
  b.embd = NULL;
  b.pos = malloc(sizeof(int32_t) * n);
  b.n_seq_id = malloc(sizeof(int32_t) * n);
  b.seq_id = malloc(sizeof(int32_t*) * n);
  b.logits = malloc(n);
  int32_t seq0 = 0;
  for (int i = 0; i < n; ++i) {
    b.pos[i] = i;
    b.n_seq_id[i] = 1;
    b.seq_id[i] = &seq0;
    b.logits[i] = 1;
  }
  if (llama_decode(c, b) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
  FILE* out = fopen(argv[4], "wb");
  if (!out) { fprintf(stderr, "cannot write %s\n", argv[4]); return 1; }
  for (int i = 0; i < n; ++i) fwrite(llama_get_logits_ith(c, i), sizeof(float), n_vocab, out);
  fclose(out);
  printf("{\"ids\": %d, \"vocab\": %d}\n", n, n_vocab);
  return 0;
}

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int Bench(int argc, char** argv) {
  if (argc < 6) return 2;
  const int prompt = atoi(argv[3]), gen = atoi(argv[4]), threads = atoi(argv[5]);
  params_block mp = llama_model_default_params();
  struct llama_model* model = llama_model_load_from_file(argv[2], mp);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
  params_block cp = llama_context_default_params();
  const int ctx = (prompt > gen ? prompt : gen) + 1;
  cp.u[0] = ctx;
  cp.u[1] = prompt > 1 ? prompt : 1;
  cp.u[2] = prompt > 1 ? prompt : 1;
  cp.u[3] = 1;
  int t = 4;
  while (t < 16 && !(cp.u[t] == 4 && cp.u[t + 1] == 4)) ++t;
  if (t == 16) { fprintf(stderr, "cannot find n_threads in llama_context_params\n"); return 1; }
  cp.u[t] = threads;
  cp.u[t + 1] = threads;
  struct llama_context* c = llama_init_from_model(model, cp);
  if (!c) { fprintf(stderr, "cannot make a context\n"); return 1; }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  struct llama_batch b;
  const int cap = prompt > 1 ? prompt : 1;
  b.token = malloc(sizeof(llama_token) * cap);
  b.embd = NULL;
  b.pos = malloc(sizeof(int32_t) * cap);
  b.n_seq_id = malloc(sizeof(int32_t) * cap);
  b.seq_id = malloc(sizeof(int32_t*) * cap);
  b.logits = malloc(cap);
  int32_t seq0 = 0;
  for (int i = 0; i < cap; ++i) {
    b.n_seq_id[i] = 1;
    b.seq_id[i] = &seq0;
  }
  double prefill = 0, decode = 0;
  for (int rep = -1; rep < 1; ++rep) {  // rep -1 warms up, as tritium bench does
    llama_memory_clear(llama_get_memory(c), 1);
    for (int i = 0; i < prompt; ++i) {
      b.token[i] = (llama_token)(1 + (i * 7919) % (n_vocab - 1));
      b.pos[i] = i;
      b.logits[i] = i == prompt - 1;
    }
    b.n_tokens = prompt;
    double t0 = Now();
    if (prompt > 0 && llama_decode(c, b) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
    prefill = Now() - t0;
    llama_memory_clear(llama_get_memory(c), 1);
    t0 = Now();
    for (int i = 0; i < gen; ++i) {
      b.n_tokens = 1;
      b.token[0] = (llama_token)(1 + (i * 7919) % (n_vocab - 1));
      b.pos[0] = i;
      b.logits[0] = 1;
      if (llama_decode(c, b) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
      (void)llama_get_logits_ith(c, -1);
    }
    decode = Now() - t0;
  }
  printf("{\"prompt\": %d, \"gen\": %d, \"threads\": %d, \"prefill_tok_s\": %.3f, "
         "\"decode_tok_s\": %.3f}\n", prompt, gen, threads, prompt / prefill, gen / decode);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: llamacpp_ref quantize IN OUT FTYPE [THREADS] | ppl MODEL TEXT CTX CHUNKS "
                    "[THREADS] [LOGITS_OUT] | logits MODEL ID,ID,... OUT.f32 | bench MODEL PROMPT GEN THREADS\n");
    return 2;
  }
  // ggml picks the CPU backend variant (haswell, zen4, ...) among the libraries in this folder.
  const char* lib = getenv("LLAMACPP_LIB");
  if (!lib) { fprintf(stderr, "set LLAMACPP_LIB to the folder of libllama (setup.sh prints it)\n"); return 2; }
  ggml_backend_load_all_from_path(lib);
  llama_backend_init();
  if (strcmp(argv[1], "quantize") == 0) return Quantize(argc, argv);
  if (strcmp(argv[1], "ppl") == 0) return Ppl(argc, argv);
  if (strcmp(argv[1], "logits") == 0) return Logits(argc, argv);
  if (strcmp(argv[1], "bench") == 0) return Bench(argc, argv);
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
