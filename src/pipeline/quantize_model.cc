#include "src/pipeline/quantize_model.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "src/model/forward.h"
#include "src/model/gguf_model.h"
#include "src/quant/gptq.h"

namespace tritium {

std::string TensorKind(const std::string& name) {
  std::string s = name;
  if (s.rfind("blk.", 0) == 0) {
    size_t dot = s.find('.', 4);
    s = dot == std::string::npos ? s : s.substr(dot + 1);
  }
  size_t last = s.rfind('.');
  return last == std::string::npos ? s : s.substr(0, last);
}

namespace {

std::string FormatLabel(const Format& f, const FormatParams& p) {
  std::string s = f.name;
  if (f.id == FormatId::kTritPlanes) {
    s += "(K=" + std::to_string(p.planes) + ",G=" + std::to_string(p.group) + ")";
  } else if (f.id == FormatId::kIntG) {
    s += "(B=" + std::to_string(p.bits) + ",G=" + std::to_string(p.group) + ")";
  }
  return s;
}

// The buffer of the float32 copies, one tensor at a time, reused from tensor to tensor: a fresh
// allocation per tensor is fresh pages, and their page faults plus the zero-fill of a
// value-initialized vector were about 40% of an RTN quantize (perf, 4-layer TinyLlama shape). It
// grows to the largest tensor a method sees, the size of that tensor's copy anyway.
class F32Scratch {
 public:
  float* Get(size_t n) {
    if (n > cap_) {
      buf_.reset();
      buf_.reset(new float[n]);
      cap_ = n;
    }
    return buf_.get();
  }

 private:
  std::unique_ptr<float[]> buf_;
  size_t cap_ = 0;
};

// The float32 copy of one tensor, widened on the pool.
float* ToF32(const Tensor& t, ThreadPool* pool, F32Scratch* scratch) {
  float* v = scratch->Get(static_cast<size_t>(t.numel()));
  const size_t rb = t.format->row_bytes(t.cols(), t.params);
  auto rows = [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      t.format->dequantize_row(t.data + r * rb, v + r * t.cols(), t.cols(), t.params);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(t.rows(), rows);
  } else {
    rows(0, t.rows(), 0);
  }
  return v;
}

// Encodes with a format's canonical row encoder; returns the bytes and accumulates the error.
std::vector<uint8_t> EncodeRows(const Format& f, const FormatParams& p, const float* w,
                                int64_t rows, int64_t cols, double* sq_err, double* sq_norm) {
  const size_t rb = f.row_bytes(cols, p);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  std::vector<float> back(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    f.quantize_row(&w[r * cols], out.data() + r * rb, cols, p);
    f.dequantize_row(out.data() + r * rb, back.data(), cols, p);
    for (int64_t c = 0; c < cols; ++c) {
      double x = w[r * cols + c];
      if (!std::isfinite(x)) continue;
      *sq_err += (x - back[c]) * (x - back[c]);
      *sq_norm += x * x;
    }
  }
  return out;
}

// What happens to one tensor, decided before anything is written: the file's layout (every
// tensor's format and size) is known from the plan alone.
struct TensorJob {
  const Tensor* src = nullptr;
  TensorPlan plan;
  QuantOptions q;  // kMethod: the options the method runs with
  const Method* method = nullptr;
  bool encode = false;  // re-encode rows with `format`'s canonical encoder
  const Format* format = nullptr;
  FormatParams params;
  uint64_t nbytes = 0;
  TensorProvenance provenance;
};

StatusOr<TensorJob> PlanTensor(const Tensor& src, const QuantizeModelOptions& opts) {
  TensorJob j;
  j.src = &src;
  j.plan = opts.recipe.Plan(src.name, src.rows(), src.cols());
  j.format = src.format;
  j.params = src.params;
  if (j.plan.action == TensorPlan::Action::kMethod) {
    QuantOptions& q = j.q;
    q = opts.quant;
    if (!j.plan.method.empty()) q.method = j.plan.method;
    if (j.plan.planes_or_bits > 0) {
      (q.method == "rtn" || q.method == "gptq" ? q.bits : q.planes) = j.plan.planes_or_bits;
    }
    j.method = FindMethod(q.method);
    if (j.method == nullptr) return InvalidArgumentError("unknown method '" + q.method + "'");
    const MethodOutput out = j.method->output(q);
    j.format = FindFormat(out.format);
    j.params = out.params;
    std::ostringstream o;
    if (q.method == "rtn" || q.method == "gptq") {
      o << "bits=" << q.bits << " group=" << q.group;
    } else {
      o << "planes=" << q.planes << " group=" << q.group << " max_iters=" << q.max_iters
        << " eps=" << q.eps;
    }
    if (MethodCalibrationNeed(q.method) == CalibrationNeed::kHessian) {
      o << " damp=" << q.damp << (q.act_order ? " act_order=1" : "");
    }
    j.provenance = {q.method, o.str()};
  } else if (j.plan.action == TensorPlan::Action::kFormat && j.plan.format != src.format) {
    j.encode = true;
    j.format = j.plan.format;
    j.params = j.plan.params;
    j.provenance = {std::string("format:") + j.format->name, ""};
  } else if (src.shape.size() == 2 &&
             (src.format->id == FormatId::kF32 || src.format->id == FormatId::kF16 ||
              src.format->id == FormatId::kBF16)) {
    // Kept at source precision. A float matrix with non-finite values (the quantizer's loader
    // lets them through) is re-encoded, which stores them as 0, as every method does.
    const size_t rb = src.format->row_bytes(src.cols(), src.params);
    for (int64_t r = 0; r < src.rows() && !j.encode; ++r) {
      j.encode = !src.format->validate_row(src.data + r * rb, src.cols(), src.params).ok();
    }
    // Planning must not hold the model: the pages come back when the tensor is written.
    src.ReleaseFilePages();
  }
  TRITIUM_RETURN_IF_ERROR(
      j.format->check_params(src.cols(), j.params).WithPrefix("tensor '" + src.name + "': "));
  j.nbytes = static_cast<uint64_t>(src.rows()) * j.format->row_bytes(src.cols(), j.params);
  return j;
}

// A finished tensor: its bytes (owned, or the source's own when kept) and stats.
struct TensorOutput {
  Tensor tensor;
  std::shared_ptr<std::vector<uint8_t>> buffer;
  TensorQuantStats stats;
};

StatusOr<TensorOutput> RunJob(const TensorJob& j, const QuantOptions& q_in, ThreadPool* pool,
                              F32Scratch* scratch) {
  const auto ts = std::chrono::steady_clock::now();
  const Tensor& src = *j.src;
  TensorOutput out;
  out.tensor = src;
  out.tensor.file_backed = false;
  out.tensor.prepared = nullptr;
  TensorQuantStats& st = out.stats;
  st.name = src.name;
  st.kind = TensorKind(src.name);
  st.params = src.numel();
  if (j.method != nullptr) {
    // The method's one float32 copy of this tensor: the only widening quantize does.
    const float* w = ToF32(src, pool, scratch);
    auto r = j.method->quantize(w, src.rows(), src.cols(), q_in, pool);
    if (!r.ok()) return r.status().WithPrefix("tensor '" + src.name + "': ");
    if (r->format != j.format->id || !(r->params == j.params) || r->data.size() != j.nbytes) {
      return InternalError("tensor '" + src.name + "': method '" + j.q.method +
                           "' wrote another format than it declared");
    }
    out.buffer = std::make_shared<std::vector<uint8_t>>(std::move(r->data));
    out.tensor.method = j.q.method;
    st.method = j.q.method;
    st.sq_err = r->sq_err;
    st.sq_norm = r->sq_norm;
    st.iterations = r->iterations;
    st.nonfinite = r->nonfinite;
  } else if (j.encode) {
    const float* w = ToF32(src, pool, scratch);
    out.buffer = std::make_shared<std::vector<uint8_t>>(
        EncodeRows(*j.format, j.params, w, src.rows(), src.cols(), &st.sq_err, &st.sq_norm));
    if (j.plan.action == TensorPlan::Action::kFormat) {
      st.method = j.provenance.method;
      out.tensor.method = st.method;
    }
  }
  if (out.buffer != nullptr) {
    out.tensor.format = j.format;
    out.tensor.params = j.params;
    out.tensor.data = out.buffer->data();
    out.tensor.nbytes = out.buffer->size();
  }
  st.format = FormatLabel(*out.tensor.format, out.tensor.params);
  st.bytes = out.tensor.nbytes;
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
  return out;
}

// Quantizes the decoder layers in order from calibration activations (calibration.h): layer l's
// linears see the inputs that layers 0..l-1, already quantized, produce; inside a layer the stages
// go q/k/v, o, gate/up, down. Each method-planned decoder tensor is handed to `emit` as soon as it
// is made; only the current layer's quantized tensors stay in memory.
Status CalibratedPass(const Model& model, const QuantizeModelOptions& opts,
                      const std::vector<TensorJob>& jobs,
                      const std::map<std::string, size_t>& index, ThreadPool* pool,
                      const std::function<Status(size_t, const TensorOutput&)>& emit,
                      F32Scratch* scratch, double* seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  double method_seconds = 0;
  LayerRunner runner(model, opts.calib->windows, pool);
  const int64_t layers = model.config().n_layers;
  const int64_t total = layers * 4;
  // Announced before the first stage, which alone can take minutes at 7B.
  if (opts.calib_progress) opts.calib_progress(0, total, "blk.0");
  for (int64_t l = 0; l < layers; ++l) {
    LayerWeights cur = model.layers()[static_cast<size_t>(l)];
    std::vector<TensorOutput>
        layer_outputs;  // this layer's quantized tensors, for its later stages
    layer_outputs.reserve(7);
    for (int stage = 0; stage < 4; ++stage) {
      const LayerStage s = static_cast<LayerStage>(stage);
      const std::vector<const Tensor*> ws = StageWeights(cur, s);
      bool need_h = false, any = false;
      for (const Tensor* t : ws) {
        const TensorJob& j = jobs[index.at(t->name)];
        if (j.method == nullptr) continue;
        any = true;
        need_h |= MethodCalibrationNeed(j.q.method) != CalibrationNeed::kNone;
      }
      std::unique_ptr<HessianAccumulator> acc;
      if (need_h) acc = std::make_unique<HessianAccumulator>(ws[0]->cols());
      runner.RunStage(static_cast<int>(l), cur, s, [&](const float* x, int64_t n) {
        if (acc) acc->Add(x, n, pool);
      });
      if (any) {
        std::vector<double> h;
        if (acc) {
          h = acc->TakeMean();
          acc.reset();
        }
        std::vector<const Tensor*> quantized;
        // q/k/v (and gate/up) share H, so they share its factorization.
        gptq::FactorCache factors;
        for (const Tensor* t : ws) {
          const size_t i = index.at(t->name);
          const TensorJob& j = jobs[i];
          if (j.method == nullptr) {
            quantized.push_back(t);
            continue;
          }
          QuantOptions q = j.q;
          if (!h.empty()) {
            q.hessian = h.data();
            q.factor_cache = &factors;
            q.importance.assign(static_cast<size_t>(t->cols()), 0.0f);
            for (int64_t c = 0; c < t->cols(); ++c) q.importance[c] = h[c * t->cols() + c];
          }
          if (opts.imatrix != nullptr) q.importance = opts.imatrix->values.at(t->name);
          auto r = RunJob(j, q, pool, scratch);
          if (!r.ok()) return r.status();
          method_seconds += r->stats.seconds;
          TRITIUM_RETURN_IF_ERROR(emit(i, *r));
          layer_outputs.push_back(std::move(*r));
          quantized.push_back(&layer_outputs.back().tensor);
        }
        switch (s) {  // later stages (and layers) run on the quantized weights
          case LayerStage::kAttnIn:
            cur.wq = quantized[0], cur.wk = quantized[1], cur.wv = quantized[2];
            break;
          case LayerStage::kAttnOut:
            cur.wo = quantized[0];
            break;
          case LayerStage::kFfnIn:
            cur.w_gate = quantized[0], cur.w_up = quantized[1];
            break;
          case LayerStage::kFfnOut:
            cur.w_down = quantized[0];
            break;
        }
      }
      if (opts.calib_progress) {
        opts.calib_progress(l * 4 + stage + 1, total, "blk." + std::to_string(l));
      }
    }
    runner.Finish(static_cast<int>(l), cur);
  }
  *seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - method_seconds;
  return OkStatus();
}

}  // namespace

StatusOr<QuantizeModelResult> QuantizeModel(const Model& model, const std::string& out_path,
                                            const QuantizeModelOptions& opts, ThreadPool* pool) {
  const auto t0 = std::chrono::steady_clock::now();
  QuantizeModelResult res;
  const std::vector<Tensor>& tensors = model.tensors();
  const size_t n = tensors.size();

  // 1. Plan every tensor: formats and sizes are known before any weight is touched.
  if (opts.imatrix != nullptr) TRITIUM_RETURN_IF_ERROR(CheckImatrix(*opts.imatrix, model));
  std::vector<TensorJob> jobs;
  std::map<std::string, size_t> index;
  bool need_calib = false;
  std::string needing;
  for (size_t i = 0; i < n; ++i) {
    TRITIUM_ASSIGN_OR_RETURN(TensorJob j, PlanTensor(tensors[i], opts));
    if (j.method != nullptr) {
      const CalibrationNeed need = MethodCalibrationNeed(j.q.method);
      if (need == CalibrationNeed::kHessian ||
          (need == CalibrationNeed::kImportance && opts.imatrix == nullptr)) {
        need_calib = true;
        needing = j.q.method;
      }
      if (opts.imatrix != nullptr) {
        auto im = opts.imatrix->values.find(tensors[i].name);
        if (im != opts.imatrix->values.end()) j.q.importance = im->second;
      }
    }
    index[tensors[i].name] = i;
    jobs.push_back(std::move(j));
  }
  if (need_calib && (opts.calib == nullptr || opts.calib->windows.empty())) {
    return InvalidArgumentError("method '" + needing + "' needs calibration text");
  }
  int64_t planned_params = 0;
  uint64_t planned_bytes = 0;
  std::vector<TensorDecl> decls;
  std::map<std::string, TensorProvenance> prov;
  for (const TensorJob& j : jobs) {
    decls.push_back({j.src->name, j.src->shape, j.format, j.params, j.nbytes});
    if (!j.provenance.method.empty()) {
      prov[j.src->name] = j.provenance;
      planned_params += j.src->numel();
      planned_bytes += j.nbytes;
    }
  }
  const double bpw_linear = planned_params ? 8.0 * planned_bytes / planned_params : 0;

  // 2. The header and tensor table go to disk first; each tensor's data follows as it is made.
  std::vector<std::pair<std::string, GgufValue>> extra;
  extra.emplace_back("tritium.quant.method", GgufValue::Str(opts.quant.method));
  extra.emplace_back("tritium.quant.bpw_linear", GgufValue::F32(static_cast<float>(bpw_linear)));
  extra.emplace_back("tritium.quant.quantized_params",
                     GgufValue::U64(static_cast<uint64_t>(planned_params)));
  if (need_calib) {
    extra.emplace_back("tritium.quant.calib_text_hash", GgufValue::U64(opts.calib->text_hash));
    extra.emplace_back("tritium.quant.calib_tokens",
                       GgufValue::U64(static_cast<uint64_t>(opts.calib->tokens())));
  }
  if (opts.imatrix != nullptr) {
    extra.emplace_back("tritium.quant.imatrix_text_hash", GgufValue::U64(opts.imatrix->text_hash));
  }
  TRITIUM_ASSIGN_OR_RETURN(auto writer,
                           ModelGgufWriter::Begin(out_path, model, decls, prov, extra));

  std::vector<TensorQuantStats> stats(n);
  std::vector<bool> done(n, false);
  auto emit = [&](size_t i, const TensorOutput& out) -> Status {
    TRITIUM_RETURN_IF_ERROR(writer->WriteTensor(i, out.tensor.data));
    stats[i] = out.stats;
    done[i] = true;
    // Consumed input: its pages leave our resident set (they fault back in if read again).
    tensors[i].ReleaseFilePages();
    return OkStatus();
  };

  // 3. Calibrated methods go layer by layer; then everything else, tensor by tensor.
  F32Scratch scratch;
  if (need_calib) {
    TRITIUM_RETURN_IF_ERROR(
        CalibratedPass(model, opts, jobs, index, pool, emit, &scratch, &res.calib_seconds));
    res.calib_tokens = opts.calib->tokens();
  }
  const int64_t total = static_cast<int64_t>(n);
  for (size_t i = 0; i < n; ++i) {
    if (opts.progress) opts.progress(static_cast<int64_t>(i), total, tensors[i].name);
    if (done[i]) continue;
    auto r = RunJob(jobs[i], jobs[i].q, pool, &scratch);
    if (!r.ok()) return r.status();
    TRITIUM_RETURN_IF_ERROR(emit(i, *r));
  }
  if (opts.progress) opts.progress(total, total, "");
  TRITIUM_RETURN_IF_ERROR(writer->Commit());

  // 4. Totals, summed in file order so they do not depend on the order tensors were made in.
  std::map<std::string, std::pair<double, double>> kind_err;
  double all_err = 0, all_norm = 0;
  for (const TensorQuantStats& st : stats) {
    if (!st.method.empty()) {
      ++res.quantized_tensors;
      res.quantized_params += st.params;
      res.quantized_bytes += st.bytes;
      kind_err[st.kind].first += st.sq_err;
      kind_err[st.kind].second += st.sq_norm;
      all_err += st.sq_err;
      all_norm += st.sq_norm;
    }
    res.nonfinite += st.nonfinite;
    res.max_iterations = std::max(res.max_iterations, st.iterations);
    res.total_params += st.params;
    res.tensors.push_back(st);
  }
  res.bpw_linear = res.quantized_params ? 8.0 * res.quantized_bytes / res.quantized_params : 0;
  for (const auto& [k, e] : kind_err)
    res.rel_err_by_kind[k] = e.second > 0 ? e.first / e.second : 0;
  res.rel_err_all = all_norm > 0 ? all_err / all_norm : 0;
  res.file_bytes = writer->file_size();
  res.bpw_file = res.total_params ? 8.0 * res.file_bytes / res.total_params : 0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace tritium
