// tritium bench: prefill and decode speed of a model, in the manner of llama-bench: pp = one
// forward pass over P prompt tokens, tg = N single-token forward passes from an empty cache, each
// repeated REPS times after one untimed warm-up, reported as mean +- sample sd of tokens/s.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "src/base/threads.h"
#include "src/base/cpu_features.h"
#include "src/kernels/prepared_weight.h"
#include "src/model/forward.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct BenchArgs {
  std::string model, tokenizer;
  int prompt = 512;
  int gen = 128;
  int threads = 0;
  int reps = 5;
  bool json = false;
};

std::string FormatLabel(const Tensor& t) {
  std::string s = t.format->name;
  if (t.format->id == FormatId::kTritPlanes) {
    s += " K=" + std::to_string(t.params.planes) + " G=" + std::to_string(t.params.group);
  } else if (t.format->id == FormatId::kIntG) {
    s += " B=" + std::to_string(t.params.bits) + " G=" + std::to_string(t.params.group);
  }
  return s;
}

struct Stat {
  double mean = 0, sd = 0;
};

Stat Summarize(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

int Bench(const BenchArgs& a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  lo.require_tokenizer = false;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  const ModelConfig& c = model.config();
  if (a.prompt + a.gen > c.max_positions) {
    return Fail("-p " + std::to_string(a.prompt) + " + -n " + std::to_string(a.gen) +
                " exceeds the model's context of " + std::to_string(c.max_positions));
  }
  // The format of the linear layers (the most common one by bytes) and bits per weight.
  std::map<std::string, uint64_t> by_format;
  uint64_t lin_bytes = 0;
  int64_t lin_params = 0;
  for (const auto& L : model.layers()) {
    for (const Tensor* t : {L.wq, L.wk, L.wv, L.wo, L.w_gate, L.w_up, L.w_down}) {
      by_format[FormatLabel(*t)] += t->nbytes;
      lin_bytes += t->nbytes;
      lin_params += t->numel();
    }
  }
  std::string format;
  uint64_t best = 0;
  for (const auto& [f, b] : by_format) {
    if (b > best) {
      best = b;
      format = f;
    }
  }
  const double bpw_layers = lin_params ? 8.0 * lin_bytes / lin_params : 0;
  // Bytes a decoded token reads: every layer matrix and the head as the kernels hold them (the
  // repacked form where there is one), one embedding row aside. Divided by the machine's
  // bandwidth (a triad), it gives the decode roofline.
  auto held = [](const Tensor& t) -> uint64_t {
    return t.prepared != nullptr ? t.prepared->bytes() : t.nbytes;
  };
  uint64_t decode_bytes = held(model.output());
  for (const auto& L : model.layers()) {
    for (const Tensor* t : {L.wq, L.wk, L.wv, L.wo, L.w_gate, L.w_up, L.w_down}) {
      decode_bytes += held(*t);
    }
  }
  const double bpw_all = 8.0 * model.TensorBytes() / static_cast<double>(model.ParameterCount());

  ThreadPool pool(a.threads);
  Session session(model, &pool, a.prompt + a.gen);
  std::vector<int32_t> tokens(static_cast<size_t>(std::max(a.prompt, 1)));
  // Fixed pseudo-random ids: speed does not depend on which tokens they are.
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(c.vocab_size));
  }
  std::vector<float> logits;
  using Clock = std::chrono::steady_clock;
  std::vector<double> pp, tg;
  for (int rep = -1; rep < a.reps; ++rep) {  // rep -1: warm-up
    if (a.prompt > 0) {
      session.Reset();
      auto t0 = Clock::now();
      if (Status s = session.Forward(tokens.data(), a.prompt, false, &logits); !s.ok()) {
        return Fail(s);
      }
      double sec = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rep >= 0) pp.push_back(a.prompt / sec);
    }
    if (a.gen > 0) {
      session.Reset();
      auto t0 = Clock::now();
      for (int i = 0; i < a.gen; ++i) {
        if (Status s = session.Forward(&tokens[static_cast<size_t>(i) % tokens.size()], 1, false,
                                       &logits);
            !s.ok()) {
          return Fail(s);
        }
      }
      double sec = std::chrono::duration<double>(Clock::now() - t0).count();
      if (rep >= 0) tg.push_back(a.gen / sec);
    }
  }
  const Stat pps = Summarize(pp), tgs = Summarize(tg);
  const double size_mib = model.TensorBytes() / (1024.0 * 1024.0);
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["format"] = format;
    j["bpw_layers"] = bpw_layers;
    j["bpw_all"] = bpw_all;
    j["size_bytes"] = model.TensorBytes();
    j["decode_bytes_per_token"] = decode_bytes;
    j["parameters"] = model.ParameterCount();
    j["threads"] = pool.num_threads();
    j["cpu"] = CpuFeaturesString();
    j["reps"] = a.reps;
    if (a.prompt > 0) {
      j["pp"] = {{"tokens", a.prompt}, {"tps_mean", pps.mean}, {"tps_sd", pps.sd}, {"tps", pp}};
    }
    if (a.gen > 0) {
      j["tg"] = {{"tokens", a.gen}, {"tps_mean", tgs.mean}, {"tps_sd", tgs.sd}, {"tps", tg}};
    }
    PrintJson(j);
    return 0;
  }
  std::printf("| %-28s | %-22s | %6s | %9s | %7s | %-16s | %7s | %18s |\n", "model", "format",
              "bpw", "size MiB", "threads", "cpu", "test", "t/s");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(),
              std::string(24, '-').c_str(), std::string(8, '-').c_str(),
              std::string(11, '-').c_str(), std::string(9, '-').c_str(),
              std::string(18, '-').c_str(), std::string(9, '-').c_str(),
              std::string(20, '-').c_str());
  std::string name = a.model;
  if (name.size() > 28) name = "..." + name.substr(name.size() - 25);
  auto row = [&](const std::string& test, const Stat& s) {
    std::printf("| %-28s | %-22s | %6.3f | %9.2f | %7d | %-16s | %7s | %9.2f +- %6.2f |\n",
                name.c_str(), format.c_str(), bpw_layers, size_mib, pool.num_threads(),
                CpuFeaturesString().c_str(), test.c_str(), s.mean, s.sd);
  };
  if (a.prompt > 0) row("pp" + std::to_string(a.prompt), pps);
  if (a.gen > 0) row("tg" + std::to_string(a.gen), tgs);
  return 0;
}

}  // namespace

void AddBenchVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "prefill and decode speed (llama-bench style)");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("-p,--n-prompt", a->prompt, "prompt tokens for the prefill test (default 512)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", a->gen, "tokens for the decode test (default 128)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-r,--repetitions", a->reps, "timed repetitions (default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file (not needed for timing)");
  cmd->add_flag("--json", a->json, "print one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Bench(*a); }; });
}

}  // namespace tritium::cli
