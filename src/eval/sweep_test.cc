// Sweep configs, the Pareto front, and the plot: every point labelled, no label over another.
#include "src/eval/sweep.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

namespace tritium {
namespace {

TEST(Sweep, ParsesConfigs) {
  auto c = ParseSweepConfigs("rtn:bits=4,group=128; ptqtp:planes=3,group=64,iters=20,eps=1e-3\n"
                             "# a comment\n  ptqtp:planes=2,exclude=*ffn_down*,label=K2-down  ");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].quant.quant.method, "rtn");
  EXPECT_EQ((*c)[0].quant.quant.bits, 4);
  EXPECT_EQ((*c)[0].label, "RTN 4b g128");
  EXPECT_EQ((*c)[1].quant.quant.planes, 3);
  EXPECT_EQ((*c)[1].quant.quant.group, 64);
  EXPECT_EQ((*c)[1].quant.quant.max_iters, 20);
  EXPECT_DOUBLE_EQ((*c)[1].quant.quant.eps, 1e-3);
  EXPECT_EQ((*c)[2].label, "K2-down");
  EXPECT_NE((*c)[2].ParamsString().find("exclude=*ffn_down*"), std::string::npos);
  EXPECT_EQ((*c)[2].quant.recipe.Plan("blk.0.ffn_down.weight", 8, 8).action,
            TensorPlan::Action::kKeep);
  for (const char* bad : {"", "rtn:bits=5", "ptqtp:bits=2", "rtn:planes=2", "x:bits=2",
                          "rtn:group=100", "rtn:bits", "rtn:bits=4,,", "ptqtp:eps=-1",
                          "ptqtp:size=3", "rtn:tensor_type=*=NOPE"}) {
    EXPECT_FALSE(ParseSweepConfigs(bad).ok()) << bad;
  }
}

SweepRow Row(const std::string& spec, double bpw, double ppl) {
  SweepRow r;
  r.config = ParseSweepConfig(spec).value();
  r.bpw_linear = bpw;
  r.ppl.ppl = ppl;
  return r;
}

TEST(Sweep, ParetoFront) {
  std::vector<SweepRow> rows = {Row("rtn:bits=2", 2.25, 160), Row("rtn:bits=3", 3.25, 94),
                                Row("ptqtp:planes=2", 3.5, 99), Row("rtn:bits=4", 4.25, 87),
                                Row("ptqtp:planes=1", 1.75, 170), Row("rtn:bits=8", 8.25, 87)};
  const std::vector<bool> f = ParetoFront(rows);
  EXPECT_EQ(f, (std::vector<bool>{true, true, false, true, true, false}));
}

struct Label {
  double x, y;
  std::string text;
};

// The point labels of the plot (12 px, fill #111), as written by SweepSvg.
std::vector<Label> Labels(const std::string& svg) {
  std::vector<Label> out;
  std::regex re("<text x=\"([-0-9.e]+)\" y=\"([-0-9.e]+)\" font-size=\"12\" fill=\"#111\">"
                "([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3]});
  }
  return out;
}

// The numbers of the llama-docs-28m sweep (docs/quality.md): a crowded cluster at 3-4.5 bits.
SweepResult Crowded() {
  SweepResult r;
  r.model = "../shared/models/llama-docs-28m";
  r.text = "wiki.test.raw";
  r.ctx = 512;
  r.windows = 40;
  r.tokens = 20440;
  r.base.ppl.ppl = 85.843;
  r.rows = {Row("rtn:bits=2", 2.25, 165.2),          Row("rtn:bits=3", 3.25, 93.774),
            Row("rtn:bits=4", 4.25, 87.534),          Row("rtn:bits=8", 8.25, 85.864),
            Row("ptqtp:planes=1", 1.75, 173.827),     Row("ptqtp:planes=2", 3.5, 90.603),
            Row("ptqtp:planes=3", 5.25, 86.411),      Row("ptqtp:planes=2,group=64", 3.75, 89.586),
            Row("ptqtp:planes=4", 7.0, 85.9),         Row("rtn:bits=3,group=64", 3.5, 92.0)};
  return r;
}

TEST(Sweep, PlotLabelsEveryPointWithoutOverlaps) {
  const SweepResult r = Crowded();
  const std::string svg = SweepSvg(r);
  if (const char* dump = std::getenv("TRITIUM_SWEEP_SVG")) WriteFileAtomically(dump, svg).ok();
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("perplexity (log scale"), std::string::npos);
  EXPECT_NE(svg.find("bits per weight"), std::string::npos);
  EXPECT_NE(svg.find("float model: PPL 85.84"), std::string::npos);
  const std::vector<Label> labels = Labels(svg);
  ASSERT_EQ(labels.size(), r.rows.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    // The same width estimate as the layout; boxes are [x, x + w] x [baseline - 11, baseline + 3].
    const double wi = 0.62 * 12 * labels[i].text.size();
    EXPECT_GE(labels[i].x, 90) << labels[i].text;
    EXPECT_LE(labels[i].x + wi, 960 - 40) << labels[i].text;
    for (size_t j = 0; j < i; ++j) {
      const double wj = 0.62 * 12 * labels[j].text.size();
      const bool overlap = labels[i].x < labels[j].x + wj && labels[j].x < labels[i].x + wi &&
                           labels[i].y - 11 < labels[j].y + 3 && labels[j].y - 11 < labels[i].y + 3;
      EXPECT_FALSE(overlap) << labels[i].text << " / " << labels[j].text;
    }
  }
}

}  // namespace
}  // namespace tritium
