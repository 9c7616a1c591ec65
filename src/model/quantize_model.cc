#include "src/model/quantize_model.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "src/model/gguf_model.h"

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
      QuantOptions q = opts.quant;
      if (!plan.method.empty()) q.method = plan.method;
      if (plan.planes_or_bits > 0) (q.method == "rtn" ? q.bits : q.planes) = plan.planes_or_bits;
      const Method* m = FindMethod(q.method);
      if (m == nullptr) return InvalidArgumentError("unknown method '" + q.method + "'");
      std::vector<float> w = ToF32(src);
      auto r = m->quantize(w.data(), src.rows(), src.cols(), q, pool);
      if (!r.ok()) return r.status().WithPrefix("tensor '" + src.name + "': ");
      auto buf = std::make_shared<std::vector<uint8_t>>(std::move(r->data));
      t.format = FindFormat(r->format);
      t.params = r->params;
      t.data = buf->data();
      t.nbytes = buf->size();
      buffers.push_back(buf);
      st.sq_err = r->sq_err;
      st.sq_norm = r->sq_norm;
      st.iterations = r->iterations;
      st.nonfinite = r->nonfinite;
      std::ostringstream o;
      if (q.method == "rtn") {
        o << "bits=" << q.bits << " group=" << q.group;
      } else {
        o << "planes=" << q.planes << " group=" << q.group << " max_iters=" << q.max_iters
          << " eps=" << q.eps;
      }
      st.method = q.method;
      t.method = q.method;
      prov[src.name] = {q.method, o.str()};
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
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
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
  TRITIUM_RETURN_IF_ERROR(WriteModelGguf(out_path, model, out, prov, extra));
  if (auto f = MappedFile::Open(out_path); f.ok()) res.file_bytes = (*f)->size();
  res.bpw_file = res.total_params ? 8.0 * res.file_bytes / res.total_params : 0;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace tritium
