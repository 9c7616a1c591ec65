#include "src/eval/sweep.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "src/quant/recipe.h"

namespace tritium {

namespace {

std::string Trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

StatusOr<int> ParseInt(const std::string& spec, const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError("config '" + spec + "': " + key + "=" + v +
                                " is not a positive integer");
  }
  return std::stoi(v);
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string XmlEscape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      default: r += c;
    }
  }
  return r;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string r = "\"";
  for (char c : s) r += c == '"' ? std::string("\"\"") : std::string(1, c);
  return r + "\"";
}

// Bits per weight, at source precision, of the tensors the default recipe would quantize: the
// float model's point of comparison for bpw_linear.
void SourceLinearBits(const Model& m, SweepRow* row) {
  Recipe recipe;
  for (const Tensor& t : m.tensors()) {
    row->total_params += t.numel();
    if (t.shape.size() != 2) continue;
    if (recipe.Plan(t.name, t.rows(), t.cols()).action != TensorPlan::Action::kMethod) continue;
    const Format* f = t.format;
    row->quantized_params += t.numel();
    row->quantized_bytes += static_cast<uint64_t>(t.rows()) * f->row_bytes(t.cols(), t.params);
  }
  row->bpw_linear =
      row->quantized_params ? 8.0 * row->quantized_bytes / row->quantized_params : 0;
}

}  // namespace

std::string SweepConfig::ParamsString() const {
  const QuantOptions& q = quant.quant;
  std::string s;
  if (q.method == "rtn") {
    s = "bits=" + std::to_string(q.bits) + " group=" + std::to_string(q.group);
  } else {
    s = "planes=" + std::to_string(q.planes) + " group=" + std::to_string(q.group) +
        " iters=" + std::to_string(q.max_iters) + " eps=" + Fmt("%g", q.eps);
  }
  // Recipe overrides are not inspectable, so show them as written.
  const size_t colon = spec.find(':');
  if (colon != std::string::npos) {
    std::stringstream ss(spec.substr(colon + 1));
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      if (kv.rfind("tensor_type=", 0) == 0 || kv.rfind("exclude=", 0) == 0) s += " " + kv;
    }
  }
  return s;
}

StatusOr<SweepConfig> ParseSweepConfig(const std::string& spec_in) {
  SweepConfig c;
  c.spec = Trim(spec_in);
  const std::string& spec = c.spec;
  const size_t colon = spec.find(':');
  const std::string method = spec.substr(0, colon);
  if (method != "rtn" && method != "ptqtp") {
    return InvalidArgumentError("config '" + spec + "': method '" + method +
                                "' is not rtn or ptqtp");
  }
  QuantOptions& q = c.quant.quant;
  q.method = method;
  std::string label;
  if (colon != std::string::npos) {
    std::stringstream ss(spec.substr(colon + 1));
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size()) {
        return InvalidArgumentError("config '" + spec + "': '" + kv + "' is not KEY=VALUE");
      }
      const std::string key = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (key == "bits" || key == "planes" || key == "group" || key == "iters") {
        TRITIUM_ASSIGN_OR_RETURN(int n, ParseInt(spec, key, v));
        if (key == "bits") {
          if (method != "rtn") return InvalidArgumentError("config '" + spec + "': bits is rtn's");
          if (n != 2 && n != 3 && n != 4 && n != 8) {
            return InvalidArgumentError("config '" + spec + "': bits must be 2, 3, 4 or 8");
          }
          q.bits = n;
        } else if (key == "planes") {
          if (method != "ptqtp") {
            return InvalidArgumentError("config '" + spec + "': planes is ptqtp's");
          }
          if (n < 1 || n > 4) return InvalidArgumentError("config '" + spec + "': planes 1..4");
          q.planes = n;
        } else if (key == "group") {
          if (n != 32 && n != 64 && n != 128 && n != 256) {
            return InvalidArgumentError("config '" + spec + "': group must be 32, 64, 128, 256");
          }
          q.group = n;
        } else {
          if (n < 1) return InvalidArgumentError("config '" + spec + "': iters must be >= 1");
          q.max_iters = n;
        }
      } else if (key == "eps") {
        char* end = nullptr;
        const double e = std::strtod(v.c_str(), &end);
        if (end != v.c_str() + v.size() || !(e >= 0) || !std::isfinite(e)) {
          return InvalidArgumentError("config '" + spec + "': eps must be a number >= 0");
        }
        q.eps = e;
      } else if (key == "tensor_type") {
        TRITIUM_RETURN_IF_ERROR(c.quant.recipe.AddTensorType(v).WithPrefix("config '" + spec +
                                                                           "': "));
      } else if (key == "exclude") {
        c.quant.recipe.AddExclude(v);
      } else if (key == "label") {
        label = v;
      } else {
        return InvalidArgumentError("config '" + spec + "': unknown key '" + key +
                                    "' (bits, planes, group, iters, eps, tensor_type, exclude, "
                                    "label)");
      }
    }
  }
  if (label.empty()) {
    label = method == "rtn" ? "RTN " + std::to_string(q.bits) + "b g" + std::to_string(q.group)
                            : "PTQTP K=" + std::to_string(q.planes) + " g" +
                                  std::to_string(q.group);
  }
  c.label = label;
  return c;
}

StatusOr<std::vector<SweepConfig>> ParseSweepConfigs(const std::string& list) {
  std::vector<SweepConfig> out;
  std::stringstream lines(list);
  std::string line;
  while (std::getline(lines, line)) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& ch : line) {
      if (ch == ';') ch = ' ';
    }
    std::stringstream words(line);
    std::string w;
    while (words >> w) {
      TRITIUM_ASSIGN_OR_RETURN(SweepConfig c, ParseSweepConfig(w));
      out.push_back(std::move(c));
    }
  }
  if (out.empty()) return InvalidArgumentError("no configurations given");
  return out;
}

StatusOr<SweepResult> RunSweep(const Model& float_model, const std::string& text,
                               const std::vector<SweepConfig>& configs, const SweepOptions& opts,
                               ThreadPool* pool) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(opts.work_dir, ec);
  if (!IsDirectory(opts.work_dir)) {
    return IoError(opts.work_dir + ": cannot create the work directory");
  }
  auto log = [&](const std::string& s) {
    if (opts.log) opts.log(s);
  };
  SweepResult res;
  res.model = opts.model_name;
  res.text = opts.text_name;
  res.ctx = opts.eval.ctx;

  const std::string base_path = JoinPath(opts.work_dir, "float.logits");
  EvaluateOptions eo = opts.eval;
  eo.text_name = opts.text_name;
  eo.progress = opts.eval_progress;
  eo.save_logits = base_path;
  eo.kld_base.clear();
  log("[0/" + std::to_string(configs.size()) + "] float model: evaluating, saving its logits");
  TRITIUM_ASSIGN_OR_RETURN(EvaluateResult fr, EvaluateModel(float_model, text, eo, pool));
  res.base.is_float = true;
  res.base.config.label = "float";
  res.base.config.spec = "float";
  SourceLinearBits(float_model, &res.base);
  res.base.ppl = fr.ppl;
  res.base.eval_seconds = fr.ppl.seconds;
  // Against itself the KLD is 0 and top-1 agreement 100% by definition (tested in kld_test).
  res.base.kld.tokens = fr.ppl.tokens_scored;
  res.base.kld.top1_agree = 1;
  res.base.kld.ppl = res.base.kld.ppl_base = fr.ppl.ppl;
  res.base.kld.ppl_ratio = 1;
  res.windows = fr.ppl.windows;
  res.tokens = fr.ppl.tokens_scored;

  eo.save_logits.clear();
  eo.kld_base = base_path;
  eo.max_chunks = res.windows;
  for (size_t i = 0; i < configs.size(); ++i) {
    const SweepConfig& c = configs[i];
    const std::string tag = "[" + std::to_string(i + 1) + "/" + std::to_string(configs.size()) +
                            "] " + c.spec;
    const std::string out = JoinPath(opts.work_dir, "sweep-" + std::to_string(i) + ".gguf");
    log(tag + ": quantizing");
    TRITIUM_ASSIGN_OR_RETURN(QuantizeModelResult q, QuantizeModel(float_model, out, c.quant, pool));
    SweepRow row;
    row.config = c;
    row.bpw_linear = q.bpw_linear;
    row.bpw_file = q.bpw_file;
    row.quantized_bytes = q.quantized_bytes;
    row.quantized_params = q.quantized_params;
    row.file_bytes = q.file_bytes;
    row.total_params = q.total_params;
    row.rel_weight_err = q.rel_err_all;
    row.quant_seconds = q.seconds;
    log(tag + ": evaluating");
    {
      TRITIUM_ASSIGN_OR_RETURN(std::unique_ptr<Model> qm, Model::Load(out));
      auto er = EvaluateModel(*qm, text, eo, pool);
      if (!er.ok()) return er.status().WithPrefix(c.spec + ": ");
      row.ppl = er->ppl;
      row.kld = *er->kld;
      row.eval_seconds = er->ppl.seconds;
    }
    if (!opts.keep_models) fs::remove(out, ec);
    log(tag + ": " + Fmt("%.4f bpw", row.bpw_linear) + Fmt(", PPL %.3f", row.ppl.ppl) +
        Fmt(", KLD %.5f", row.kld.kld_mean));
    res.rows.push_back(std::move(row));
  }
  if (!opts.keep_models) fs::remove(base_path, ec);
  return res;
}

std::vector<bool> ParetoFront(const std::vector<SweepRow>& rows) {
  std::vector<bool> front(rows.size(), true);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows.size() && front[i]; ++j) {
      if (i == j) continue;
      const double bi = rows[i].bpw_linear, bj = rows[j].bpw_linear;
      const double pi = rows[i].ppl.ppl, pj = rows[j].ppl.ppl;
      if (bj <= bi && pj <= pi && (bj < bi || pj < pi)) front[i] = false;
    }
  }
  return front;
}

std::string SweepMarkdown(const SweepResult& r) {
  const std::vector<bool> front = ParetoFront(r.rows);
  std::string s;
  s += "| config | parameters | bpw quantized | bpw file | PPL | PPL ratio | KLD mean | KLD p99 "
       "| top-1 agree | quant s | Pareto |\n";
  s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n";
  const SweepRow& b = r.base;
  s += "| float | source weights | " + Fmt("%.4f", b.bpw_linear) + " | - | " +
       Fmt("%.3f", b.ppl.ppl) + Fmt(" ± %.3f", b.ppl.ppl_se) + " | 1 | 0 | 0 | 100% | - | |\n";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const SweepRow& w = r.rows[i];
    s += "| " + w.config.label + " | `" + w.config.ParamsString() + "` | " +
         Fmt("%.4f", w.bpw_linear) + " | " + Fmt("%.4f", w.bpw_file) + " | " +
         Fmt("%.3f", w.ppl.ppl) + Fmt(" ± %.3f", w.ppl.ppl_se) + " | " +
         Fmt("%.4f", w.kld.ppl_ratio) + " | " + Fmt("%.5f", w.kld.kld_mean) +
         Fmt(" ± %.5f", w.kld.kld_se) + " | " + Fmt("%.4f", w.kld.kld_p99) + " | " +
         Fmt("%.2f%%", 100 * w.kld.top1_agree) + " | " + Fmt("%.1f", w.quant_seconds) + " | " +
         (front[i] ? "yes" : "") + " |\n";
  }
  return s;
}

std::string SweepCsv(const SweepResult& r) {
  const std::vector<bool> front = ParetoFront(r.rows);
  std::string s =
      "label,method,params,bpw_linear,bpw_file,quantized_bytes,quantized_params,file_bytes,"
      "total_params,ppl,ppl_se,ppl_ratio,ppl_ratio_se,kld_mean,kld_se,kld_median,kld_p99,"
      "top1_agree,base_tail_mass,rel_weight_err,quant_seconds,eval_seconds,pareto\n";
  auto row = [&](const SweepRow& w, const std::string& method, const std::string& pareto) {
    s += CsvField(w.config.label) + "," + method + "," + CsvField(w.config.ParamsString()) + "," +
         Fmt("%.17g", w.bpw_linear) + "," + Fmt("%.17g", w.bpw_file) + "," +
         std::to_string(w.quantized_bytes) + "," + std::to_string(w.quantized_params) + "," +
         std::to_string(w.file_bytes) + "," + std::to_string(w.total_params) + "," +
         Fmt("%.6f", w.ppl.ppl) + "," + Fmt("%.6f", w.ppl.ppl_se) + "," +
         Fmt("%.6f", w.kld.ppl_ratio) + "," + Fmt("%.6f", w.kld.ppl_ratio_se) + "," +
         Fmt("%.8f", w.kld.kld_mean) + "," + Fmt("%.8f", w.kld.kld_se) + "," +
         Fmt("%.8f", w.kld.kld_median) + "," + Fmt("%.8f", w.kld.kld_p99) + "," +
         Fmt("%.6f", w.kld.top1_agree) + "," + Fmt("%.6f", w.kld.base_tail_mass) + "," +
         Fmt("%.8f", w.rel_weight_err) + "," + Fmt("%.3f", w.quant_seconds) + "," +
         Fmt("%.3f", w.eval_seconds) + "," + pareto + "\n";
  };
  row(r.base, "float", "");
  for (size_t i = 0; i < r.rows.size(); ++i) {
    row(r.rows[i], r.rows[i].config.quant.quant.method, front[i] ? "1" : "0");
  }
  return s;
}

namespace {

struct Box {
  double x0, y0, x1, y1;
  bool Overlaps(const Box& o) const {
    return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1;
  }
};

// A rough width of 12 px DejaVu Sans/Arial text; generous so that boxes err on the large side.
double TextWidth(const std::string& s, double px) { return 0.62 * px * s.size(); }

const char* MethodColor(const std::string& m) {
  if (m == "rtn") return "#d95f02";
  if (m == "ptqtp") return "#1b9e77";
  return "#7570b3";
}

}  // namespace

std::string SweepSvg(const SweepResult& r) {
  const double W = 960, H = 600, L = 90, R = 40, T = 64, B = 78;
  const double pw = W - L - R, ph = H - T - B;
  std::vector<const SweepRow*> pts;
  for (const SweepRow& w : r.rows) {
    if (std::isfinite(w.ppl.ppl) && w.ppl.ppl > 0) pts.push_back(&w);
  }
  double xmin = 1e30, xmax = -1e30, ymin = r.base.ppl.ppl, ymax = r.base.ppl.ppl;
  for (const SweepRow* p : pts) {
    xmin = std::min(xmin, p->bpw_linear);
    xmax = std::max(xmax, p->bpw_linear);
    ymin = std::min(ymin, p->ppl.ppl);
    ymax = std::max(ymax, p->ppl.ppl);
  }
  if (pts.empty()) xmin = 0, xmax = 8;
  xmin = std::floor(xmin * 2 - 1) / 2;  // half-bit margins, on half-bit ticks
  xmax = std::ceil(xmax * 2 + 1) / 2;
  xmin = std::max(0.0, xmin);
  if (!(ymin > 0)) ymin = 1;
  const double ly0 = std::log10(ymin) - 0.08, ly1 = std::log10(std::max(ymax, ymin * 1.01)) + 0.12;
  auto X = [&](double x) { return L + (x - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return T + (ly1 - std::log10(y)) / (ly1 - ly0) * ph; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const std::string title = "Perplexity vs bits per weight: " + r.model;
  o << "<text x=\"" << W / 2 << "\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" "
    << "font-weight=\"bold\">" << XmlEscape(title) << "</text>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"46\" text-anchor=\"middle\" font-size=\"12\" "
    << "fill=\"#444\">" << XmlEscape(r.text) << ", ctx " << r.ctx << ", " << r.windows
    << " windows (" << r.tokens << " scored tokens); data-free, no calibration</text>\n";

  // Grid and ticks.
  o << "<g font-size=\"12\" fill=\"#333\">\n";
  const double xstep = (xmax - xmin) > 6 ? 1.0 : 0.5;
  for (double x = std::ceil(xmin / xstep) * xstep; x <= xmax + 1e-9; x += xstep) {
    o << "<line x1=\"" << X(x) << "\" y1=\"" << T << "\" x2=\"" << X(x) << "\" y2=\"" << T + ph
      << "\" stroke=\"#e6e6e6\"/>\n";
    o << "<text x=\"" << X(x) << "\" y=\"" << T + ph + 18 << "\" text-anchor=\"middle\">"
      << Fmt("%g", x) << "</text>\n";
  }
  // Log ticks: 1, 2, 5 per decade, or every integer multiple when the range is under a decade.
  const double decades = ly1 - ly0;
  static const double kAll[] = {1, 1.2, 1.5, 2, 3, 4, 5, 6, 7, 8, 9};
  for (int e = static_cast<int>(std::floor(ly0)); e <= static_cast<int>(std::ceil(ly1)); ++e) {
    for (double m : kAll) {
      const bool major = m == 1 || m == 2 || m == 5;
      if (decades >= 1.2 && !major) continue;
      if (decades >= 0.7 && (m == 1.2 || m == 1.5)) continue;
      const double v = m * std::pow(10.0, e);
      const double lv = std::log10(v);
      if (lv < ly0 || lv > ly1) continue;
      o << "<line x1=\"" << L << "\" y1=\"" << Y(v) << "\" x2=\"" << L + pw << "\" y2=\"" << Y(v)
        << "\" stroke=\"#e6e6e6\"/>\n";
      o << "<text x=\"" << L - 8 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">"
        << Fmt("%g", v) << "</text>\n";
    }
  }
  o << "</g>\n";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 30
    << "\" text-anchor=\"middle\" font-size=\"14\">bits per weight of the quantized tensors "
    << "(scales, zeros and padding included)</text>\n";
  o << "<text transform=\"translate(24," << T + ph / 2 << ") rotate(-90)\" "
    << "text-anchor=\"middle\" font-size=\"14\">perplexity (log scale, lower is better)</text>\n";

  // Label placement: greedy, avoiding every point, the legend and earlier labels.
  std::vector<Box> taken;
  for (const SweepRow* p : pts) {
    taken.push_back({X(p->bpw_linear) - 6, Y(p->ppl.ppl) - 6, X(p->bpw_linear) + 6,
                     Y(p->ppl.ppl) + 6});
  }
  const double lgw = 230, lgh = 92, lgx = L + pw - lgw - 10, lgy = T + 10;
  taken.push_back({lgx, lgy, lgx + lgw, lgy + lgh});
  const double fy = Y(r.base.ppl.ppl);
  const std::string flabel = "float model: PPL " + Fmt("%.2f", r.base.ppl.ppl);
  const double flw = TextWidth(flabel, 12);
  // The float label sits above the line at the left, where the low-bit points are highest.
  taken.push_back({L + 8, fy - 18, L + 8 + flw, fy - 4});
  taken.push_back({L, fy - 2, L + pw, fy + 2});
  // The Pareto front's points, left to right.
  const std::vector<bool> front = ParetoFront(r.rows);
  std::vector<std::pair<double, double>> fp;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const SweepRow& w = r.rows[i];
    if (front[i] && std::isfinite(w.ppl.ppl) && w.ppl.ppl > 0) {
      fp.push_back({X(w.bpw_linear), Y(w.ppl.ppl)});
    }
  }
  std::sort(fp.begin(), fp.end());
  // The Pareto line, as a chain of small boxes, so that no label is struck through.
  for (size_t i = 0; i + 1 < fp.size(); ++i) {
    const auto [x0, y0] = fp[i];
    const auto [x1, y1] = fp[i + 1];
    const int steps = 1 + static_cast<int>(std::hypot(x1 - x0, y1 - y0) / 3);
    for (int k = 0; k <= steps; ++k) {
      const double x = x0 + (x1 - x0) * k / steps, y = y0 + (y1 - y0) * k / steps;
      taken.push_back({x - 1.5, y - 1.5, x + 1.5, y + 1.5});
    }
  }

  // Float line.
  o << "<line x1=\"" << L << "\" y1=\"" << fy << "\" x2=\"" << L + pw << "\" y2=\"" << fy
    << "\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7,5\"/>\n";
  o << "<text x=\"" << L + 8 << "\" y=\"" << fy - 7 << "\" font-size=\"12\" fill=\"#333\">"
    << XmlEscape(flabel) << "</text>\n";

  // Pareto front.
  if (fp.size() > 1) {
    o << "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" points=\"";
    for (auto& [x, y] : fp) o << x << "," << y << " ";
    o << "\"/>\n";
  }

  // Points and labels.
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const SweepRow& w = r.rows[i];
    if (!(std::isfinite(w.ppl.ppl) && w.ppl.ppl > 0)) continue;
    const double x = X(w.bpw_linear), y = Y(w.ppl.ppl);
    const char* col = MethodColor(w.config.quant.quant.method);
    if (front[i]) {
      o << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"6.5\" fill=\"" << col
        << "\" stroke=\"#111\" stroke-width=\"2\"/>\n";
    } else {
      o << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"5.5\" fill=\"white\" stroke=\""
        << col << "\" stroke-width=\"2.5\"/>\n";
    }
  }
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const SweepRow& w = r.rows[i];
    if (!(std::isfinite(w.ppl.ppl) && w.ppl.ppl > 0)) continue;
    const double x = X(w.bpw_linear), y = Y(w.ppl.ppl);
    const std::string label = w.config.label + " (" + Fmt("%.2f", w.ppl.ppl) + ")";
    const double tw = TextWidth(label, 12), th = 14;
    // Candidate boxes around the point, nearest first; the first free one inside the plot wins.
    std::vector<std::pair<double, double>> cand = {
        {10, -th / 2}, {-10 - tw, -th / 2}, {-tw / 2, -10 - th}, {-tw / 2, 10},
        {10, -th - 6}, {10, 6},             {-10 - tw, -th - 6}, {-10 - tw, 6}};
    // Farther out (joined to the point by a leader line), below first: lower is the free side
    // of a PPL curve that falls to the right.
    for (double d : {24.0, 40.0, 56.0, 72.0, 90.0}) {
      for (double dx : {10.0, -tw / 2, -10 - tw}) {
        cand.push_back({dx, d});
        cand.push_back({dx, -d - th});
      }
    }
    Box best{x + 10, y - th / 2, x + 10 + tw, y + th / 2};
    bool found = false;
    for (const auto& c : cand) {
      Box b{x + c.first, y + c.second, x + c.first + tw, y + c.second + th};
      if (b.x0 < L + 2 || b.x1 > L + pw - 2 || b.y0 < T + 2 || b.y1 > T + ph - 2) continue;
      bool clash = false;
      for (const Box& t : taken) clash = clash || b.Overlaps(t);
      if (!clash) {
        best = b;
        found = true;
        break;
      }
    }
    if (!found) {
      // Stack below the lowest clashing label, so text never overprints text.
      for (int k = 0; k < 40; ++k) {
        bool clash = false;
        for (const Box& t : taken) clash = clash || best.Overlaps(t);
        if (!clash) break;
        best.y0 += th + 2;
        best.y1 += th + 2;
      }
    }
    taken.push_back(best);
    // A leader line when the label is not right next to its point.
    const double cx = std::clamp(x, best.x0, best.x1), cy = std::clamp(y, best.y0, best.y1);
    const double len = std::hypot(cx - x, cy - y);
    if (len > 14) {
      // From the circle's edge, not its centre.
      o << "<line x1=\"" << x + 7 * (cx - x) / len << "\" y1=\"" << y + 7 * (cy - y) / len
        << "\" x2=\"" << cx << "\" y2=\"" << cy
        << "\" stroke=\"#888\" stroke-width=\"1\"/>\n";
    }
    o << "<text x=\"" << best.x0 << "\" y=\"" << best.y1 - 3 << "\" font-size=\"12\" fill=\"#111\">"
      << XmlEscape(label) << "</text>\n";
  }

  // Legend.
  o << "<g font-size=\"12\">\n";
  o << "<rect x=\"" << lgx << "\" y=\"" << lgy << "\" width=\"" << lgw << "\" height=\"" << lgh
    << "\" fill=\"white\" stroke=\"#999\"/>\n";
  double ly = lgy + 18;
  auto dot = [&](const char* col, const char* text, bool filled) {
    o << "<circle cx=\"" << lgx + 16 << "\" cy=\"" << ly - 4 << "\" r=\"5.5\" fill=\""
      << (filled ? col : "white") << "\" stroke=\"" << (filled ? "#111" : col)
      << "\" stroke-width=\"2\"/>\n";
    o << "<text x=\"" << lgx + 30 << "\" y=\"" << ly << "\">" << text << "</text>\n";
    ly += 18;
  };
  dot(MethodColor("ptqtp"), "PTQTP (trit-planes)", false);
  dot(MethodColor("rtn"), "RTN (INT_G round-to-nearest)", false);
  o << "<line x1=\"" << lgx + 8 << "\" y1=\"" << ly - 4 << "\" x2=\"" << lgx + 24 << "\" y2=\""
    << ly - 4 << "\" stroke=\"#222\" stroke-width=\"1.5\"/>\n";
  o << "<circle cx=\"" << lgx + 16 << "\" cy=\"" << ly - 4
    << "\" r=\"4.5\" fill=\"#bbb\" stroke=\"#111\" stroke-width=\"2\"/>\n";
  o << "<text x=\"" << lgx + 30 << "\" y=\"" << ly << "\">Pareto front (filled)</text>\n";
  ly += 18;
  o << "<line x1=\"" << lgx + 6 << "\" y1=\"" << ly - 4 << "\" x2=\"" << lgx + 26 << "\" y2=\""
    << ly - 4 << "\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"7,5\"/>\n";
  o << "<text x=\"" << lgx + 30 << "\" y=\"" << ly << "\">float model</text>\n";
  o << "</g>\n</svg>\n";
  return o.str();
}

}  // namespace tritium
