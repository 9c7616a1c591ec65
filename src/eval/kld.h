// KL divergence of a model's next-token distributions against a stored base (the float model's),
// the check llama.cpp asks of a new quant type, because perplexity alone averages damage away.
//
// The base file ("logits base", written by `tritium ppl --save-logits`) holds, per scored token,
// the base's NLL of the actual next token and its next-token distribution in one of two forms:
//
//  * full (default, top_k = 0): every token's natural log-probability as fp16, in id order, plus
//    the base's top-1 id: 8 + 2 V bytes a token (64,008 B for V = 32000; 40 windows of 512 are
//    1.3 GB). fp16 keeps log p to 2^-11 relative, so KL is exact to ~1e-6 nats; this is what
//    llama.cpp's --kl-divergence-base does with 16-bit codes.
//  * top-K (top_k = K): the K most likely tokens (id + f32 log p) and the log of the mass R of all
//    others: 8 + 8 K bytes (520 B at K = 64). KL is then exact over the partition {top-K, rest},
//    which by the log-sum inequality is a LOWER BOUND of the full KL, short by R times the KL of
//    the tails. On llama-docs-28m (flat distributions: R = 31% at K = 64) it reads about 2/3 of
//    the full KL, so use it only to rank quantizations on small disks, never to quote numbers.
//
// Top-1 agreement and the PPL comparison are exact in both forms.
//
// Layout (little-endian): a header, one record per scored token, a checksum.
//   "TRTKLDB1" | u32 version (1) | u32 K (0 = full) | i64 vocab | i64 ctx | i64 windows |
//   i64 scored tokens per window | u32 flags (bit 0: score_second_half) | u32 model-name bytes |
//   u64 xxh64(tokenizer vocabulary) | u64 ids hash (xxh64 of the window hashes that follow) |
//   model name bytes | windows x u64 xxh64(the window's ctx token ids)
//   full record:  f32 base NLL of the next token | u32 top-1 id | V x fp16 log p
//   top-K record: f32 base NLL of the next token | f32 log R | K x (u32 id, f32 log p)
//   trailer: u64 xxh64(every byte before it)
#ifndef TRITIUM_EVAL_KLD_H_
#define TRITIUM_EVAL_KLD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/base/status.h"
#include "src/model/model.h"

struct XXH64_state_s;

namespace tritium {

// 0: whole distributions (exact KL); K > 0: top-K + rest (a lower bound, see above).
inline constexpr int kDefaultLogitsTopK = 0;

// Bytes the base file spends per scored token.
constexpr int64_t LogitsBaseBytesPerToken(int top_k, int64_t vocab) {
  return top_k == 0 ? 8 + 2 * vocab : 8 + 8 * int64_t{top_k};
}

// What identifies the evaluation a base belongs to.
struct LogitsBaseInfo {
  int top_k = kDefaultLogitsTopK;  // 0 = full distributions
  int64_t vocab = 0;
  int64_t ctx = 0;
  int64_t windows = 0;
  bool score_second_half = false;
  uint64_t vocab_hash = 0;  // TokenizerVocabHash
  uint64_t ids_hash = 0;    // xxh64 of the per-window id hashes (set by the writer)
  std::string model_name;   // for messages only
  // Scored positions per window (ctx - 1, or ctx - ctx/2 - 1 with score_second_half).
  int64_t ScoredPerWindow() const;
};

// xxh64 of the tokenizer's pieces and special ids: equal for the same vocabulary whatever file it
// was loaded from (HF directory, llama2.c .bin, our GGUF).
uint64_t TokenizerVocabHash(const Tokenizer& tok);

// The ids of window `w` exactly as ComputePerplexity feeds them (BOS first with
// score_second_half), so a base can be checked against a text before anything is computed.
std::vector<int32_t> WindowIds(const std::vector<int32_t>& ids, int64_t ctx, int64_t w,
                               bool score_second_half, int32_t bos_id);
uint64_t HashIds(const int32_t* ids, int64_t n);
// Hashes of the first `windows` windows of a run.
std::vector<uint64_t> WindowHashes(const std::vector<int32_t>& ids, int64_t ctx, int64_t windows,
                                   bool score_second_half, int32_t bos_id);

// Streams a base file: one AddWindow per evaluated window (the PerplexityOptions::on_window
// hook), then Commit. The file appears only on a successful Commit. The window hashes are known
// before any logits (they come from the ids), so the header is complete and records stream.
class LogitsBaseWriter {
 public:
  static StatusOr<std::unique_ptr<LogitsBaseWriter>> Create(
      const std::string& path, const LogitsBaseInfo& info,
      const std::vector<uint64_t>& window_hashes);
  ~LogitsBaseWriter();
  // logits: [ctx x vocab] of the window; ids: the window's ctx ids.
  Status AddWindow(const float* logits, const int32_t* ids);
  Status Commit();
  const LogitsBaseInfo& info() const { return info_; }

 private:
  LogitsBaseWriter() = default;
  Status Write(const void* p, size_t n);
  std::string path_;
  LogitsBaseInfo info_;
  std::unique_ptr<AtomicFileWriter> file_;
  XXH64_state_s* hash_state_ = nullptr;  // checksum of every byte written
  std::vector<uint64_t> window_hashes_;
  int64_t windows_done_ = 0;
  std::vector<uint8_t> record_;
  std::vector<int32_t> order_;
};

// A base file, mapped and fully validated on Open (sizes, checksum, ids in range, each record's
// probabilities summing to 1): a truncated or corrupted file is an error naming the file.
class LogitsBase {
 public:
  static StatusOr<std::unique_ptr<LogitsBase>> Open(const std::string& path);
  const LogitsBaseInfo& info() const { return info_; }
  const std::string& path() const { return file_->path(); }
  uint64_t window_hash(int64_t w) const { return window_hashes_[static_cast<size_t>(w)]; }
  // Record of scored token `i` (0-based, position first_scored + i) of window `w`.
  const uint8_t* record(int64_t w, int64_t i) const;
  // Refuses a base made for another tokenizer, text, ctx or protocol; `windows` may be fewer than
  // the base holds (a prefix is compared), not more.
  Status CheckCompatible(const LogitsBaseInfo& run,
                         const std::vector<uint64_t>& run_window_hashes) const;

 private:
  LogitsBase() = default;
  std::unique_ptr<MappedFile> file_;
  LogitsBaseInfo info_;
  std::vector<uint64_t> window_hashes_;
  const uint8_t* records_ = nullptr;
};

struct KldResult {
  int64_t tokens = 0;
  double kld_mean = 0, kld_se = 0, kld_median = 0, kld_p90 = 0, kld_p99 = 0, kld_max = 0;
  double top1_agree = 0, top1_agree_se = 0;  // share in [0, 1]
  double ppl = 0, ppl_base = 0;
  double ppl_ratio = 0, ppl_ratio_se = 0;  // PPL / PPL_base, SE from paired per-token NLLs
  double ppl_diff = 0;                     // PPL - PPL_base
  double nll_diff = 0, nll_diff_se = 0;    // mean ln(PPL/PPL_base) per token
  double base_tail_mass = 0;               // mean R: mass outside the stored top-K (0 if full)
  bool lower_bound = false;                // a top-K base: kld_* are lower bounds
};

// Accumulates per-token KL against a base; feed it the on_window hook of ComputePerplexity.
class KldAccumulator {
 public:
  explicit KldAccumulator(const LogitsBase* base) : base_(base) {}
  // Errors (a window whose ids differ from the base's) are kept and returned by Finish.
  void AddWindow(int64_t w, const float* logits, const int32_t* ids);
  StatusOr<KldResult> Finish() const;

 private:
  const LogitsBase* base_;
  Status status_;
  std::vector<double> kld_, nll_, nll_base_;
  int64_t top1_same_ = 0;
  double tail_sum_ = 0;
  std::vector<uint8_t> in_top_;
  std::vector<float> lp_;
};

}  // namespace tritium

#endif  // TRITIUM_EVAL_KLD_H_
