#include "src/model/quantize_model.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "src/model/gguf_model.h"
#include "src/model/forward.h"

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

std::vector<float> ToF32(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  const size_t rb = t.format->row_bytes(t.cols(), t.params);
  for (int64_t r = 0; r < t.rows(); ++r) {
    t.format->dequantize_row(t.data + r * rb, v.data() + r * t.cols(), t.cols(), t.params);
  }
  return v;
}

// Encodes with a format's canonical row encoder; returns the bytes and accumulates the error.
std::vector<uint8_t> EncodeRows(const Format& f, const FormatParams& p, const std::vector<float>& w,
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

// A tensor quantized by a method: the new tensor, its bytes, stats and provenance.
struct MethodOutput {
  Tensor tensor;
  std::shared_ptr<std::vector<uint8_t>> buffer;
  TensorQuantStats stats;
  TensorProvenance provenance;
};

StatusOr<MethodOutput> RunMethod(const Tensor& src, const TensorPlan& plan, QuantOptions q,
                                 ThreadPool* pool) {
  const auto ts = std::chrono::steady_clock::now();
  if (!plan.method.empty()) q.method = plan.method;
  if (plan.planes_or_bits > 0) {
    (q.method == "rtn" || q.method == "gptq" ? q.bits : q.planes) = plan.planes_or_bits;
  }
  const Method* m = FindMethod(q.method);
  if (m == nullptr) return InvalidArgumentError("unknown method '" + q.method + "'");
  std::vector<float> w = ToF32(src);
  auto r = m->quantize(w.data(), src.rows(), src.cols(), q, pool);
  if (!r.ok()) return r.status().WithPrefix("tensor '" + src.name + "': ");
  MethodOutput out;
  out.buffer = std::make_shared<std::vector<uint8_t>>(std::move(r->data));
  out.tensor = src;
  out.tensor.format = FindFormat(r->format);
  out.tensor.params = r->params;
  out.tensor.data = out.buffer->data();
  out.tensor.nbytes = out.buffer->size();
  out.tensor.method = q.method;
  TensorQuantStats& st = out.stats;
  st.name = src.name;
  st.kind = TensorKind(src.name);
  st.params = src.numel();
  st.sq_err = r->sq_err;
  st.sq_norm = r->sq_norm;
  st.iterations = r->iterations;
  st.nonfinite = r->nonfinite;
  st.method = q.method;
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
  out.provenance = {q.method, o.str()};
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
  return out;
}

QuantOptions MethodOptionsFor(const QuantizeModelOptions& opts, const TensorPlan& plan) {
  QuantOptions q = opts.quant;
  if (!plan.method.empty()) q.method = plan.method;
  return q;
}

// Quantizes the decoder layers in order from calibration activations (calibration.h): layer l's
// linears see the inputs that layers 0..l-1, already quantized, produce; inside a layer the stages
// go q/k/v, o, gate/up, down. Fills `done` with every method-planned decoder tensor.
Status CalibratedPass(const Model& model, const QuantizeModelOptions& opts, ThreadPool* pool,
                      std::map<std::string, MethodOutput>* done, double* seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  double method_seconds = 0;
  LayerRunner runner(model, opts.calib->windows, pool);
  const int64_t layers = model.config().n_layers;
  const int64_t total = layers * 4;
  for (int64_t l = 0; l < layers; ++l) {
    LayerWeights cur = model.layers()[static_cast<size_t>(l)];
    for (int stage = 0; stage < 4; ++stage) {
      const LayerStage s = static_cast<LayerStage>(stage);
      const std::vector<const Tensor*> ws = StageWeights(cur, s);
      bool need_h = false, any = false;
      for (const Tensor* t : ws) {
        TensorPlan plan = opts.recipe.Plan(t->name, t->rows(), t->cols());
        if (plan.action != TensorPlan::Action::kMethod) continue;
        any = true;
        need_h |= MethodCalibrationNeed(MethodOptionsFor(opts, plan).method) !=
                  CalibrationNeed::kNone;
      }
      std::unique_ptr<HessianAccumulator> acc;
      if (need_h) acc = std::make_unique<HessianAccumulator>(ws[0]->cols());
      runner.RunStage(static_cast<int>(l), cur, s, [&](const float* x, int64_t n) {
        if (acc) acc->Add(x, n, pool);
      });
      if (any) {
        std::vector<double> h;
        if (acc) h = acc->Mean();
        std::vector<const Tensor*> quantized;
        for (const Tensor* t : ws) {
          TensorPlan plan = opts.recipe.Plan(t->name, t->rows(), t->cols());
          if (plan.action != TensorPlan::Action::kMethod) {
            quantized.push_back(t);
            continue;
          }
          QuantOptions q = opts.quant;
          if (!h.empty()) {
            q.hessian = h.data();
            q.importance.assign(static_cast<size_t>(t->cols()), 0.0f);
            for (int64_t j = 0; j < t->cols(); ++j) q.importance[j] = h[j * t->cols() + j];
          }
          if (opts.imatrix != nullptr) q.importance = opts.imatrix->values.at(t->name);
          auto r = RunMethod(*t, plan, q, pool);
          if (!r.ok()) return r.status();
          method_seconds += r->stats.seconds;
          auto [it, ok] = done->emplace(t->name, std::move(*r));
          quantized.push_back(&it->second.tensor);
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
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() -
             method_seconds;
  return OkStatus();
}

}  // namespace

StatusOr<QuantizeModelResult> QuantizeModel(const Model& model, const std::string& out_path,
                                            const QuantizeModelOptions& opts, ThreadPool* pool) {
  const auto t0 = std::chrono::steady_clock::now();
  QuantizeModelResult res;
  std::vector<Tensor> out;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> buffers;
  std::map<std::string, TensorProvenance> prov;
  std::map<std::string, std::pair<double, double>> kind_err;
  double all_err = 0, all_norm = 0;
  const int64_t total = static_cast<int64_t>(model.tensors().size());

  // Calibration: needed when a planned method uses activations and no imatrix covers it.
  if (opts.imatrix != nullptr) TRITIUM_RETURN_IF_ERROR(CheckImatrix(*opts.imatrix, model));
  bool need_calib = false;
  std::string needing;
  for (const Tensor& src : model.tensors()) {
    TensorPlan plan = opts.recipe.Plan(src.name, src.rows(), src.cols());
    if (plan.action != TensorPlan::Action::kMethod) continue;
    const std::string method = MethodOptionsFor(opts, plan).method;
    const CalibrationNeed need = MethodCalibrationNeed(method);
    if (need == CalibrationNeed::kHessian ||
        (need == CalibrationNeed::kImportance && opts.imatrix == nullptr)) {
      need_calib = true;
      needing = method;
    }
  }
  std::map<std::string, MethodOutput> calibrated;
  if (need_calib) {
    if (opts.calib == nullptr || opts.calib->windows.empty()) {
      return InvalidArgumentError("method '" + needing + "' needs calibration text");
    }
    TRITIUM_RETURN_IF_ERROR(
        CalibratedPass(model, opts, pool, &calibrated, &res.calib_seconds));
    res.calib_tokens = opts.calib->tokens();
  }

  int64_t done = 0;
  for (const Tensor& src : model.tensors()) {
    if (opts.progress) opts.progress(done, total, src.name);
    const auto ts = std::chrono::steady_clock::now();
    TensorQuantStats st;
    st.name = src.name;
    st.kind = TensorKind(src.name);
    st.params = src.numel();
    Tensor t = src;
    TensorPlan plan = opts.recipe.Plan(src.name, src.rows(), src.cols());
    if (plan.action == TensorPlan::Action::kMethod) {
      auto it = calibrated.find(src.name);
      MethodOutput mo;
      if (it != calibrated.end()) {
        mo = std::move(it->second);
      } else {
        QuantOptions q = opts.quant;
        if (opts.imatrix != nullptr) {
          auto im = opts.imatrix->values.find(src.name);
          if (im != opts.imatrix->values.end()) q.importance = im->second;
        }
        auto r = RunMethod(src, plan, q, pool);
        if (!r.ok()) return r.status();
        mo = std::move(*r);
      }
      t = mo.tensor;
      buffers.push_back(mo.buffer);
      st = mo.stats;
      prov[src.name] = mo.provenance;
    } else {
      const Format* f = nullptr;
      if (plan.action == TensorPlan::Action::kFormat) {
        f = plan.format;
      } else if (src.shape.size() == 2 && src.source_format != nullptr) {
        f = src.source_format;  // keep at source precision
      }
      if (f != nullptr && f != src.format) {
        if (Status s = f->check_params(src.cols(), plan.params); !s.ok()) {
          return s.WithPrefix("tensor '" + src.name + "': ");
        }
        std::vector<float> w = ToF32(src);
        auto buf = std::make_shared<std::vector<uint8_t>>(
            EncodeRows(*f, plan.params, w, src.rows(), src.cols(), &st.sq_err, &st.sq_norm));
        t.format = f;
        t.params = plan.params;
        t.data = buf->data();
        t.nbytes = buf->size();
        buffers.push_back(buf);
        if (plan.action == TensorPlan::Action::kFormat) {
          st.method = std::string("format:") + f->name;
          t.method = st.method;
          prov[src.name] = {st.method, ""};
        }
      }
    }
    st.format = FormatLabel(*t.format, t.params);
    st.bytes = t.nbytes;
    if (plan.action != TensorPlan::Action::kMethod) {
      st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    }
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
    out.push_back(t);
    ++done;
  }
  if (opts.progress) opts.progress(total, total, "");
  res.bpw_linear = res.quantized_params ? 8.0 * res.quantized_bytes / res.quantized_params : 0;
  for (const auto& [k, e] : kind_err) res.rel_err_by_kind[k] = e.second > 0 ? e.first / e.second : 0;
  res.rel_err_all = all_norm > 0 ? all_err / all_norm : 0;
  std::vector<std::pair<std::string, GgufValue>> extra;
  extra.emplace_back("tritium.quant.method", GgufValue::Str(opts.quant.method));
  extra.emplace_back("tritium.quant.bpw_linear", GgufValue::F32(static_cast<float>(res.bpw_linear)));
  extra.emplace_back("tritium.quant.quantized_params",
                     GgufValue::U64(static_cast<uint64_t>(res.quantized_params)));
  if (need_calib) {
    extra.emplace_back("tritium.quant.calib_text_hash", GgufValue::U64(opts.calib->text_hash));
    extra.emplace_back("tritium.quant.calib_tokens",
                       GgufValue::U64(static_cast<uint64_t>(res.calib_tokens)));
  }
  if (opts.imatrix != nullptr) {
    extra.emplace_back("tritium.quant.imatrix_text_hash", GgufValue::U64(opts.imatrix->text_hash));
  }
  TRITIUM_RETURN_IF_ERROR(WriteModelGguf(out_path, model, out, prov, extra));
  if (auto f = MappedFile::Open(out_path); f.ok()) res.file_bytes = (*f)->size();
  res.bpw_file = res.total_params ? 8.0 * res.file_bytes / res.total_params : 0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace tritium
