#include "src/eval/kld.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "src/base/fp16.h"

namespace tritium {

namespace {

constexpr char kMagic[8] = {'T', 'R', 'T', 'K', 'L', 'D', 'B', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFixedHeader = 72;
constexpr uint32_t kMaxNameBytes = 4096;
constexpr int kMaxTopK = 1 << 20;

template <typename T>
void Put(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

int64_t FirstScored(const LogitsBaseInfo& info) {
  return info.score_second_half ? info.ctx / 2 : 0;
}

// Log-sum-exp pieces of one logits row, in double: max and sum of exp(l - max).
void RowExpSum(const float* row, int64_t vocab, double* mx, double* sum) {
  float m = row[0];
  for (int64_t j = 1; j < vocab; ++j) m = std::max(m, row[j]);
  double s = 0;
  for (int64_t j = 0; j < vocab; ++j) s += std::exp(static_cast<double>(row[j]) - m);
  *mx = m;
  *sum = s;
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

int64_t LogitsBaseInfo::ScoredPerWindow() const { return ctx - 1 - FirstScored(*this); }

uint64_t TokenizerVocabHash(const Tokenizer& tok) {
  const TokenizerVocab& v = tok.vocab();
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0);
  const int64_t n = tok.vocab_size();
  XXH64_update(st, &n, sizeof(n));
  // Length-prefixed pieces so that ("ab", "c") and ("a", "bc") hash differently.
  for (const std::string& piece : v.tokens) {
    const uint64_t len = piece.size();
    XXH64_update(st, &len, sizeof(len));
    XXH64_update(st, piece.data(), piece.size());
  }
  const int32_t special[3] = {tok.bos_id(), tok.eos_id(), v.unk_id};
  XXH64_update(st, special, sizeof(special));
  const uint64_t h = XXH64_digest(st);
  XXH64_freeState(st);
  return h;
}

std::vector<int32_t> WindowIds(const std::vector<int32_t>& ids, int64_t ctx, int64_t w,
                               bool score_second_half, int32_t bos_id) {
  std::vector<int32_t> win(ids.begin() + w * ctx, ids.begin() + (w + 1) * ctx);
  if (score_second_half && bos_id >= 0) win[0] = bos_id;
  return win;
}

uint64_t HashIds(const int32_t* ids, int64_t n) {
  return XXH64(ids, static_cast<size_t>(n) * sizeof(int32_t), 0);
}

std::vector<uint64_t> WindowHashes(const std::vector<int32_t>& ids, int64_t ctx, int64_t windows,
                                   bool score_second_half, int32_t bos_id) {
  std::vector<uint64_t> h;
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> win = WindowIds(ids, ctx, w, score_second_half, bos_id);
    h.push_back(HashIds(win.data(), ctx));
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Writer

StatusOr<std::unique_ptr<LogitsBaseWriter>> LogitsBaseWriter::Create(
    const std::string& path, const LogitsBaseInfo& info,
    const std::vector<uint64_t>& window_hashes) {
  if (info.top_k < 0 || info.top_k > kMaxTopK || info.top_k > info.vocab) {
    return InvalidArgumentError("top-K of " + std::to_string(info.top_k) + " must be in 0.." +
                                std::to_string(std::min<int64_t>(kMaxTopK, info.vocab)) +
                                " (0 = whole distributions)");
  }
  if (info.ctx < 2 || info.windows < 1 ||
      static_cast<int64_t>(window_hashes.size()) != info.windows) {
    return InvalidArgumentError("logits base: no windows to store, or hashes missing");
  }
  auto w = std::unique_ptr<LogitsBaseWriter>(new LogitsBaseWriter());
  w->path_ = path;
  w->info_ = info;
  w->window_hashes_ = window_hashes;
  if (w->info_.model_name.size() > kMaxNameBytes) w->info_.model_name.resize(kMaxNameBytes);
  w->info_.ids_hash = XXH64(window_hashes.data(), window_hashes.size() * sizeof(uint64_t), 0);
  TRITIUM_ASSIGN_OR_RETURN(w->file_, AtomicFileWriter::Create(path));
  w->hash_state_ = XXH64_createState();
  XXH64_reset(w->hash_state_, 0);
  const LogitsBaseInfo& in = w->info_;
  std::vector<uint8_t> h;
  for (char c : kMagic) h.push_back(static_cast<uint8_t>(c));
  Put<uint32_t>(&h, kVersion);
  Put<uint32_t>(&h, static_cast<uint32_t>(in.top_k));
  Put<int64_t>(&h, in.vocab);
  Put<int64_t>(&h, in.ctx);
  Put<int64_t>(&h, in.windows);
  Put<int64_t>(&h, in.ScoredPerWindow());
  Put<uint32_t>(&h, in.score_second_half ? 1u : 0u);
  Put<uint32_t>(&h, static_cast<uint32_t>(in.model_name.size()));
  Put<uint64_t>(&h, in.vocab_hash);
  Put<uint64_t>(&h, in.ids_hash);
  for (char c : in.model_name) h.push_back(static_cast<uint8_t>(c));
  for (uint64_t x : window_hashes) Put<uint64_t>(&h, x);
  TRITIUM_RETURN_IF_ERROR(w->Write(h.data(), h.size()));
  return w;
}

LogitsBaseWriter::~LogitsBaseWriter() {
  if (hash_state_ != nullptr) XXH64_freeState(hash_state_);
}

Status LogitsBaseWriter::Write(const void* p, size_t n) {
  XXH64_update(hash_state_, p, n);
  return file_->Write(p, n).WithPrefix(path_ + ": ");
}

Status LogitsBaseWriter::AddWindow(const float* logits, const int32_t* ids) {
  const LogitsBaseInfo& in = info_;
  if (windows_done_ >= in.windows) {
    return InternalError(path_ + ": more windows than the header announced");
  }
  if (HashIds(ids, in.ctx) != window_hashes_[static_cast<size_t>(windows_done_)]) {
    return InternalError(path_ + ": window " + std::to_string(windows_done_) +
                         " is not the one announced in the header");
  }
  const int64_t vocab = in.vocab, k = in.top_k;
  const size_t rec_bytes = static_cast<size_t>(LogitsBaseBytesPerToken(in.top_k, vocab));
  order_.resize(static_cast<size_t>(vocab));
  for (int64_t i = FirstScored(in); i + 1 < in.ctx; ++i) {
    const float* row = logits + i * vocab;
    double mx, sum;
    RowExpSum(row, vocab, &mx, &sum);
    if (!std::isfinite(mx) || !(sum > 0) || !std::isfinite(sum)) {
      return InternalError(path_ + ": non-finite logits at window " +
                           std::to_string(windows_done_) + ", position " + std::to_string(i));
    }
    const double log_z = mx + std::log(sum);
    record_.clear();
    Put<float>(&record_, static_cast<float>(log_z - row[ids[i + 1]]));
    if (k == 0) {
      // The top-1 is stored, not re-derived from fp16 values that may round two logits equal.
      int64_t argmax = 0;
      for (int64_t j = 1; j < vocab; ++j) {
        if (row[j] > row[argmax]) argmax = j;
      }
      Put<uint32_t>(&record_, static_cast<uint32_t>(argmax));
      for (int64_t j = 0; j < vocab; ++j) {
        Put<uint16_t>(&record_, F32ToF16(static_cast<float>(row[j] - log_z)));
      }
    } else {
      std::iota(order_.begin(), order_.end(), 0);
      // Most likely first; ties by lower id, the same rule as the first-maximum argmax of the
      // compared model, so a model compared with itself agrees on every top-1.
      auto before = [row](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      };
      std::nth_element(order_.begin(), order_.begin() + (k - 1), order_.end(), before);
      std::sort(order_.begin(), order_.begin() + k, before);
      // The tail is summed directly, not as 1 - top mass, which would cancel when R is tiny.
      double tail = 0;
      for (int64_t j = k; j < vocab; ++j) {
        tail += std::exp(static_cast<double>(row[order_[j]]) - mx);
      }
      Put<float>(&record_, tail > 0 ? static_cast<float>(std::log(tail / sum))
                                    : -std::numeric_limits<float>::infinity());
      for (int64_t j = 0; j < k; ++j) {
        Put<uint32_t>(&record_, static_cast<uint32_t>(order_[j]));
        Put<float>(&record_, static_cast<float>(row[order_[j]] - log_z));
      }
    }
    if (record_.size() != rec_bytes) return InternalError("logits base: record size");
    TRITIUM_RETURN_IF_ERROR(Write(record_.data(), record_.size()));
  }
  ++windows_done_;
  return OkStatus();
}

Status LogitsBaseWriter::Commit() {
  if (windows_done_ != info_.windows) {
    return InternalError(path_ + ": " + std::to_string(windows_done_) + " windows of " +
                         std::to_string(info_.windows) + " were stored");
  }
  const uint64_t sum = XXH64_digest(hash_state_);
  TRITIUM_RETURN_IF_ERROR(file_->Write(&sum, sizeof(sum)).WithPrefix(path_ + ": "));
  return file_->Commit().WithPrefix(path_ + ": ");
}

// ---------------------------------------------------------------------------------------------
// Reader

StatusOr<std::unique_ptr<LogitsBase>> LogitsBase::Open(const std::string& path) {
  auto b = std::unique_ptr<LogitsBase>(new LogitsBase());
  TRITIUM_ASSIGN_OR_RETURN(b->file_, MappedFile::Open(path));
  const uint8_t* p = b->file_->data();
  const size_t size = b->file_->size();
  auto bad = [&](const std::string& why) {
    return DataLossError(path + ": not a valid logits base (from tritium ppl --save-logits): " +
                         why);
  };
  if (size < kFixedHeader || std::memcmp(p, kMagic, 8) != 0) return bad("bad magic or too short");
  if (Get<uint32_t>(p + 8) != kVersion) {
    return bad("version " + std::to_string(Get<uint32_t>(p + 8)) + ", expected 1");
  }
  LogitsBaseInfo& in = b->info_;
  const uint32_t k = Get<uint32_t>(p + 12);
  in.vocab = Get<int64_t>(p + 16);
  in.ctx = Get<int64_t>(p + 24);
  in.windows = Get<int64_t>(p + 32);
  const int64_t scored = Get<int64_t>(p + 40);
  const uint32_t flags = Get<uint32_t>(p + 48);
  const uint32_t name_bytes = Get<uint32_t>(p + 52);
  in.vocab_hash = Get<uint64_t>(p + 56);
  in.ids_hash = Get<uint64_t>(p + 64);
  if (in.vocab < 1 || in.vocab > (int64_t{1} << 31)) return bad("vocabulary size out of range");
  if (k > static_cast<uint32_t>(kMaxTopK) || k > in.vocab) return bad("top-K out of range");
  in.top_k = static_cast<int>(k);
  if (in.ctx < 2 || in.ctx > (int64_t{1} << 24)) return bad("ctx out of range");
  if (in.windows < 1 || in.windows > (int64_t{1} << 32)) return bad("window count out of range");
  if (flags > 1) return bad("unknown flags");
  in.score_second_half = flags == 1;
  if (scored != in.ScoredPerWindow()) return bad("scored tokens per window disagree with ctx");
  if (name_bytes > kMaxNameBytes) return bad("model name too long");
  // windows < 2^32 and scored < 2^24 keep `records` below 2^56; the file size bounds the rest.
  const uint64_t rec = static_cast<uint64_t>(LogitsBaseBytesPerToken(in.top_k, in.vocab));
  const uint64_t records = static_cast<uint64_t>(in.windows) * static_cast<uint64_t>(scored);
  if (records > size / rec) {
    return bad("size " + std::to_string(size) + " bytes, too small for its header (truncated)");
  }
  const uint64_t expect =
      kFixedHeader + name_bytes + static_cast<uint64_t>(in.windows) * 8 + records * rec + 8;
  if (size != expect) {
    return bad("size " + std::to_string(size) + " bytes, the header implies " +
               std::to_string(expect) + " (truncated or extended)");
  }
  if (XXH64(p, size - 8, 0) != Get<uint64_t>(p + size - 8)) return bad("checksum mismatch");
  in.model_name.assign(reinterpret_cast<const char*>(p + kFixedHeader), name_bytes);
  const uint8_t* hashes = p + kFixedHeader + name_bytes;
  b->window_hashes_.resize(static_cast<size_t>(in.windows));
  std::memcpy(b->window_hashes_.data(), hashes, b->window_hashes_.size() * 8);
  b->records_ = hashes + b->window_hashes_.size() * 8;
  if (XXH64(hashes, b->window_hashes_.size() * 8, 0) != in.ids_hash) {
    return bad("token-id hash disagrees with the per-window hashes");
  }
  // Each record: ids in range (and distinct), log-probs finite and summing to 1 (with the tail).
  // The checksum catches accidents; this catches a writer that lied.
  // Distinct ids are checked by sorting each record's ids: memory bounded by the record (which the
  // file's size bounds), never by the vocabulary a header claims (2^31 ids once cost 16 GiB).
  std::vector<uint32_t> ids;
  for (uint64_t r = 0; r < records; ++r) {
    const uint8_t* q = b->records_ + r * rec;
    const std::string where = "record " + std::to_string(r) + ": ";
    const float nll = Get<float>(q);
    if (!std::isfinite(nll) || nll < -1e-3f) return bad(where + "NLL");
    double mass = 0;
    if (k == 0) {
      const uint32_t top1 = Get<uint32_t>(q + 4);
      if (top1 >= in.vocab) return bad(where + "top-1 id out of range");
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < in.vocab; ++j) {
        const float lp = F16ToF32(Get<uint16_t>(q + 8 + 2 * j));
        if (std::isnan(lp) || lp > 1e-2f) return bad(where + "log-probability of token " +
                                                      std::to_string(j));
        mx = std::max(mx, lp);
        mass += std::exp(lp);
      }
      // fp16 may round the top two equal, never reorder them by more than its step.
      if (F16ToF32(Get<uint16_t>(q + 8 + 2 * top1)) < mx - 1e-2f) return bad(where + "top-1");
    } else {
      const float log_rest = Get<float>(q + 4);
      if (std::isnan(log_rest) || log_rest > 1e-4f) return bad(where + "tail mass");
      mass = std::exp(static_cast<double>(log_rest));
      float prev = std::numeric_limits<float>::infinity();
      ids.clear();
      for (uint32_t j = 0; j < k; ++j) {
        const uint32_t id = Get<uint32_t>(q + 8 + 8 * j);
        const float lp = Get<float>(q + 12 + 8 * j);
        if (id >= in.vocab || !std::isfinite(lp) || lp > 1e-4f || lp > prev) {
          return bad(where + "top-K entry " + std::to_string(j));
        }
        ids.push_back(id);
        prev = lp;
        mass += std::exp(static_cast<double>(lp));
      }
      std::sort(ids.begin(), ids.end());
      if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
        return bad(where + "top-K ids repeat");
      }
    }
    if (std::fabs(mass - 1.0) > 1e-2) {
      return bad(where + "probabilities sum to " + std::to_string(mass));
    }
  }
  return b;
}

const uint8_t* LogitsBase::record(int64_t w, int64_t i) const {
  const int64_t idx = w * info_.ScoredPerWindow() + i;
  return records_ + idx * LogitsBaseBytesPerToken(info_.top_k, info_.vocab);
}

Status LogitsBase::CheckCompatible(const LogitsBaseInfo& run,
                                   const std::vector<uint64_t>& run_window_hashes) const {
  const std::string& p = path();
  const std::string made = p + ": logits base was made ";
  if (run.vocab != info_.vocab) {
    return InvalidArgumentError(made + "for a vocabulary of " + std::to_string(info_.vocab) +
                                " tokens, this model has " + std::to_string(run.vocab));
  }
  if (run.vocab_hash != info_.vocab_hash) {
    return InvalidArgumentError(made + "with another tokenizer (vocabulary hash differs)");
  }
  if (run.ctx != info_.ctx) {
    return InvalidArgumentError(made + "with --ctx " + std::to_string(info_.ctx) +
                                ", this run uses " + std::to_string(run.ctx));
  }
  if (run.score_second_half != info_.score_second_half) {
    return InvalidArgumentError(made + (info_.score_second_half ? "with" : "without") +
                                " --score-second-half; use the same protocol");
  }
  if (run.windows > info_.windows) {
    return InvalidArgumentError(made + "over " + std::to_string(info_.windows) +
                                " windows, fewer than the " + std::to_string(run.windows) +
                                " asked for (--chunks)");
  }
  for (int64_t w = 0; w < run.windows; ++w) {
    if (run_window_hashes[static_cast<size_t>(w)] != window_hash(w)) {
      return InvalidArgumentError(made + "from another text (token ids of window " +
                                  std::to_string(w) + " differ)");
    }
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Accumulator

void KldAccumulator::AddWindow(int64_t w, const float* logits, const int32_t* ids) {
  if (!status_.ok()) return;
  const LogitsBaseInfo& in = base_->info();
  if (w >= in.windows || HashIds(ids, in.ctx) != base_->window_hash(w)) {
    status_ = InvalidArgumentError(base_->path() + ": window " + std::to_string(w) +
                                   " differs from the logits base");
    return;
  }
  const int64_t vocab = in.vocab, k = in.top_k;
  const int64_t first = FirstScored(in);
  for (int64_t i = first; i + 1 < in.ctx; ++i) {
    const float* row = logits + i * vocab;
    const uint8_t* rec = base_->record(w, i - first);
    double mx, sum;
    RowExpSum(row, vocab, &mx, &sum);
    const double log_z = mx + std::log(sum);
    int64_t argmax = 0;
    for (int64_t j = 1; j < vocab; ++j) {
      if (row[j] > row[argmax]) argmax = j;
    }
    double kl = 0;
    uint32_t base_top1 = 0;
    if (k == 0) {
      base_top1 = Get<uint32_t>(rec + 4);
      // Renormalize the fp16 log-probs, so that a model against its own base gives 0 up to the
      // fp16 rounding (a second-order ~1e-7), not the first-order error of an unnormalized sum.
      lp_.resize(static_cast<size_t>(vocab));
      double z = 0;
      for (int64_t j = 0; j < vocab; ++j) {
        lp_[j] = F16ToF32(Get<uint16_t>(rec + 8 + 2 * j));
        z += std::exp(static_cast<double>(lp_[j]));
      }
      const double log_zb = std::log(z);
      for (int64_t j = 0; j < vocab; ++j) {
        const double lp = lp_[j] - log_zb;
        if (std::isinf(lp_[j])) continue;  // p = 0 adds nothing
        kl += std::exp(lp) * (lp - (row[j] - log_z));
      }
    } else {
      base_top1 = Get<uint32_t>(rec + 8);
      in_top_.resize(static_cast<size_t>(vocab), 0);
      for (int64_t j = 0; j < k; ++j) in_top_[Get<uint32_t>(rec + 8 + 8 * j)] = 1;
      double tail = 0;
      for (int64_t j = 0; j < vocab; ++j) {
        if (!in_top_[j]) tail += std::exp(static_cast<double>(row[j]) - mx);
      }
      for (int64_t j = 0; j < k; ++j) {
        const uint32_t id = Get<uint32_t>(rec + 8 + 8 * j);
        const double lp = Get<float>(rec + 12 + 8 * j);
        kl += std::exp(lp) * (lp - (row[id] - log_z));
        in_top_[id] = 0;
      }
      const double log_rest = Get<float>(rec + 4);
      if (std::isfinite(log_rest)) {
        const double log_q_rest =
            std::log(std::max(tail / sum, std::numeric_limits<double>::min()));
        kl += std::exp(log_rest) * (log_rest - log_q_rest);
        tail_sum_ += std::exp(log_rest);
      }
    }
    kld_.push_back(kl);
    nll_.push_back(log_z - row[ids[i + 1]]);
    nll_base_.push_back(Get<float>(rec));
    if (static_cast<uint32_t>(argmax) == base_top1) ++top1_same_;
  }
}

StatusOr<KldResult> KldAccumulator::Finish() const {
  if (!status_.ok()) return status_;
  KldResult r;
  r.tokens = static_cast<int64_t>(kld_.size());
  if (r.tokens == 0) return InvalidArgumentError("no tokens compared with the logits base");
  const double n = static_cast<double>(r.tokens);
  auto mean_se = [n](const std::vector<double>& v, double* mean, double* se) {
    double s = 0, s2 = 0;
    for (double x : v) s += x;
    *mean = s / n;
    for (double x : v) s2 += (x - *mean) * (x - *mean);
    *se = n > 1 ? std::sqrt(s2 / (n - 1) / n) : 0;
  };
  mean_se(kld_, &r.kld_mean, &r.kld_se);
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  r.kld_median = Quantile(sorted, 0.5);
  r.kld_p90 = Quantile(sorted, 0.9);
  r.kld_p99 = Quantile(sorted, 0.99);
  r.kld_max = sorted.back();
  r.top1_agree = static_cast<double>(top1_same_) / n;
  r.top1_agree_se = std::sqrt(r.top1_agree * (1 - r.top1_agree) / n);
  double nll_mean = 0, nll_se = 0, base_mean = 0, base_se = 0;
  mean_se(nll_, &nll_mean, &nll_se);
  mean_se(nll_base_, &base_mean, &base_se);
  std::vector<double> diff(nll_.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = nll_[i] - nll_base_[i];
  mean_se(diff, &r.nll_diff, &r.nll_diff_se);
  r.ppl = std::exp(nll_mean);
  r.ppl_base = std::exp(base_mean);
  r.ppl_ratio = std::exp(r.nll_diff);
  r.ppl_ratio_se = r.ppl_ratio * r.nll_diff_se;
  r.ppl_diff = r.ppl - r.ppl_base;
  r.base_tail_mass = tail_sum_ / n;
  r.lower_bound = base_->info().top_k > 0;
  return r;
}

}  // namespace tritium
