// Every CUDA kernel against the CPU: matrix products against MatMulReference (the scalar oracle)
// on random and odd shapes through every path, and the transformer pieces against plain loops.
// Skips ("SKIPPED: no CUDA device") where no device answers.
#include "src/kernels/cuda/cuda_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/matmul.h"

namespace tritium::cuda {
namespace {

class CudaKernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto n = DeviceCount();
    if (!n.ok()) GTEST_SKIP() << "SKIPPED: no CUDA device (" << n.status().message() << ")";
    auto c = Context::Create();
    ASSERT_TRUE(c.ok()) << c.status().message();
    ctx_ = std::move(c).value();
  }

  DeviceBuffer Upload(const std::vector<float>& v) {
    auto b = DeviceBuffer::Alloc(std::max<size_t>(v.size(), 1) * 4);
    EXPECT_TRUE(b.ok());
    EXPECT_TRUE(CopyToDevice(*ctx_, b->data(), v.data(), v.size() * 4).ok());
    return std::move(b).value();
  }
  std::vector<float> Download(const DeviceBuffer& b, size_t n) {
    std::vector<float> v(n);
    Status s = CopyToHost(*ctx_, v.data(), b.data(), n * 4);
    EXPECT_TRUE(s.ok()) << s.message();
    return v;
  }

  std::unique_ptr<Context> ctx_;
};

struct HostMatrix {
  const Format* format;
  FormatParams params;
  int64_t rows, cols;
  std::vector<uint8_t> data;
  WeightView view() const {
    WeightView w;
    w.format = format;
    w.params = params;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = format->row_bytes(cols, params);
    w.data = data.data();
    return w;
  }
};

HostMatrix RandomTrit(int64_t rows, int64_t cols, int K, int G, std::mt19937* rng) {
  HostMatrix m{FindFormat(FormatId::kTritPlanes), {}, rows, cols, {}};
  m.params.planes = K;
  m.params.group = G;
  const size_t rb = TritRowBytes(cols, G, K);
  m.data.resize(static_cast<size_t>(rows) * rb);
  std::uniform_real_distribution<float> scale(0.0f, 0.05f);
  std::uniform_int_distribution<int> trit(-1, 1);
  std::vector<int8_t> t(static_cast<size_t>(G));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* p = m.data.data() + r * rb;
    for (int64_t c0 = 0; c0 < cols; c0 += G) {
      const int n = static_cast<int>(std::min<int64_t>(G, cols - c0));
      for (int k = 0; k < K; ++k) {
        const uint16_t h = F32ToF16(scale(*rng) / static_cast<float>(k + 1));
        p[TritScaleOffset(k)] = static_cast<uint8_t>(h);
        p[TritScaleOffset(k) + 1] = static_cast<uint8_t>(h >> 8);
        for (int j = 0; j < n; ++j) t[j] = static_cast<int8_t>(trit(*rng));
        PackTritGroup(t.data(), n, p + TritPlaneOffset(n, K, k));
      }
      p += TritGroupBytes(n, K);
    }
  }
  return m;
}

HostMatrix RandomQuantized(FormatId id, const FormatParams& p, int64_t rows, int64_t cols,
                           std::mt19937* rng) {
  HostMatrix m{FindFormat(id), p, rows, cols, {}};
  const size_t rb = m.format->row_bytes(cols, p);
  m.data.resize(static_cast<size_t>(rows) * rb);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : src) v = nd(*rng);
    m.format->quantize_row(src.data(), m.data.data() + r * rb, cols, p);
  }
  return m;
}

std::vector<float> RandomActivations(int64_t n, int64_t cols, float amp, std::mt19937* rng) {
  std::normal_distribution<float> nd(0.0f, amp);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (auto& v : x) v = nd(*rng);
  // An outlier column, as real activations have: exercises the per-token scale.
  if (cols > 3) x[3] = 40.0f * amp;
  return x;
}

// |y - ref| <= tol * sum_j |w_j x_j| + tiny: fp16 activations (2^-11), fp16 pair sums and, on the
// tensor-core paths, fp16 weights each contribute about 2^-11 of that magnitude.
void CheckProduct(const HostMatrix& m, const std::vector<float>& x, int64_t n,
                  const std::vector<float>& y, double tol, const std::string& what) {
  const WeightView w = m.view();
  std::vector<float> ref(static_cast<size_t>(n * m.rows));
  MatMulReference(w, x.data(), n, ref.data());
  std::vector<float> row(static_cast<size_t>(m.cols));
  int bad = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    w.format->dequantize_row(w.data + r * w.row_bytes, row.data(), m.cols, w.params);
    for (int64_t t = 0; t < n; ++t) {
      double mag = 0;
      for (int64_t c = 0; c < m.cols; ++c) mag += std::fabs(row[c] * x[t * m.cols + c]);
      const double err = std::fabs(static_cast<double>(y[t * m.rows + r]) - ref[t * m.rows + r]);
      if (!(err <= tol * mag + 1e-6) && bad++ < 5) {
        ADD_FAILURE() << what << ": row " << r << " token " << t << ": got " << y[t * m.rows + r]
                      << " want " << ref[t * m.rows + r] << " (|w||x| = " << mag << ")";
      }
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

struct Shape {
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{1, 1},     {3, 5},      {17, 33},   {37, 64}, {64, 130},
                             {130, 384}, {257, 1000}, {96, 4133}, {5, 8200}};
constexpr int64_t kTokens[] = {1, 2, 3, 4, 5, 8, 9, 17, 130};
constexpr GemmPath kPaths[] = {GemmPath::kAuto, GemmPath::kGemv, GemmPath::kTensorCore,
                               GemmPath::kDequantCublas};

const char* PathName(GemmPath p) {
  switch (p) {
    case GemmPath::kAuto:
      return "auto";
    case GemmPath::kGemv:
      return "gemv";
    case GemmPath::kTensorCore:
      return "tensor-core";
    case GemmPath::kDequantCublas:
      return "dequant+cublas";
  }
  return "?";
}

void RunProducts(CudaKernelsTest* test, Context& ctx, const HostMatrix& m, std::mt19937* rng,
                 const std::string& name, double tol) {
  auto dm = Matrix::Upload(ctx, m.view());
  ASSERT_TRUE(dm.ok()) << dm.status().message();
  for (int64_t n : kTokens) {
    const auto x = RandomActivations(n, m.cols, 1.0f, rng);
    auto dx = DeviceBuffer::Alloc(x.size() * 4);
    auto dy = DeviceBuffer::Alloc(static_cast<size_t>(n * m.rows) * 4);
    ASSERT_TRUE(dx.ok() && dy.ok());
    ASSERT_TRUE(CopyToDevice(ctx, dx->data(), x.data(), x.size() * 4).ok());
    for (GemmPath p : kPaths) {
      Status s = MatMul(ctx, **dm, dx->f32(), n, dy->f32(), p);
      ASSERT_TRUE(s.ok()) << s.message();
      std::vector<float> y(static_cast<size_t>(n * m.rows));
      s = CopyToHost(ctx, y.data(), dy->data(), y.size() * 4);
      ASSERT_TRUE(s.ok()) << s.message();
      CheckProduct(m, x, n, y, tol,
                   name + " " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                       " n=" + std::to_string(n) + " " + PathName(p));
    }
  }
}

TEST_F(CudaKernelsTest, TritPlanesAllPathsMatchReference) {
  std::mt19937 rng(1);
  for (int K = 1; K <= 4; ++K) {
    for (int G : {32, 64, 128, 256}) {
      for (const Shape& s : kShapes) {
        // Every K x G on a few shapes, K = 2, G = 128 (the main format) on all of them.
        if (!(K == 2 && G == 128) && s.cols > 1000) continue;
        HostMatrix m = RandomTrit(s.rows, s.cols, K, G, &rng);
        RunProducts(this, *ctx_, m, &rng,
                    "TRIT_PLANES(K=" + std::to_string(K) + ",G=" + std::to_string(G) + ")", 4e-3);
        if (HasFailure()) return;
      }
    }
  }
}

TEST_F(CudaKernelsTest, Int4AllPathsMatchReference) {
  std::mt19937 rng(2);
  for (int G : {32, 64, 128, 256}) {
    for (const Shape& s : kShapes) {
      FormatParams p;
      p.bits = 4;
      p.group = G;
      HostMatrix m = RandomQuantized(FormatId::kIntG, p, s.rows, s.cols, &rng);
      RunProducts(this, *ctx_, m, &rng, "INT_G(B=4,G=" + std::to_string(G) + ")", 4e-3);
      if (HasFailure()) return;
    }
  }
}

TEST_F(CudaKernelsTest, OtherFormatsRunAsF32) {
  std::mt19937 rng(3);
  FormatParams p3;
  p3.bits = 3;
  p3.group = 64;
  for (const Shape& s : {Shape{7, 100}, Shape{130, 384}}) {
    HostMatrix a = RandomQuantized(FormatId::kIntG, p3, s.rows, s.cols, &rng);
    HostMatrix b = RandomQuantized(FormatId::kQ8_0, FormatParams{}, s.rows, s.cols, &rng);
    for (const HostMatrix* m : {&a, &b}) {
      auto dm = Matrix::Upload(*ctx_, m->view());
      ASSERT_TRUE(dm.ok());
      EXPECT_NE((*dm)->description().find("F32"), std::string::npos);
      for (int64_t n : {1, 9}) {
        const auto x = RandomActivations(n, m->cols, 1.0f, &rng);
        DeviceBuffer dx = Upload(x);
        auto dy = DeviceBuffer::Alloc(static_cast<size_t>(n * m->rows) * 4);
        ASSERT_TRUE(dy.ok());
        ASSERT_TRUE(MatMul(*ctx_, **dm, dx.f32(), n, dy->f32()).ok());
        CheckProduct(*m, x, n, Download(*dy, static_cast<size_t>(n * m->rows)), 1e-5, "f32");
      }
    }
  }
}

TEST_F(CudaKernelsTest, LargeActivationsDoNotOverflow) {
  // fp16 tops out at 65504; the per-token power-of-two scale must keep large inputs finite.
  std::mt19937 rng(4);
  HostMatrix m = RandomTrit(64, 512, 2, 128, &rng);
  const auto x = RandomActivations(2, 512, 3000.0f, &rng);
  auto dm = Matrix::Upload(*ctx_, m.view());
  ASSERT_TRUE(dm.ok());
  DeviceBuffer dx = Upload(x);
  auto dy = DeviceBuffer::Alloc(2 * 64 * 4);
  ASSERT_TRUE(dy.ok());
  for (GemmPath p : kPaths) {
    ASSERT_TRUE(MatMul(*ctx_, **dm, dx.f32(), 2, dy->f32(), p).ok());
    CheckProduct(m, x, 2, Download(*dy, 128), 4e-3, PathName(p));
  }
}

// --- Transformer pieces --------------------------------------------------------------------------

TEST_F(CudaKernelsTest, RmsNormAddBiasSwiGlu) {
  std::mt19937 rng(5);
  const int64_t rows = 5, d = 300;
  auto x = RandomActivations(rows, d, 2.0f, &rng);
  auto w = RandomActivations(1, d, 1.0f, &rng);
  auto b = RandomActivations(1, d, 1.0f, &rng);
  DeviceBuffer dx = Upload(x), dw = Upload(w), db = Upload(b);
  auto dout = DeviceBuffer::Alloc(x.size() * 4);
  ASSERT_TRUE(dout.ok());
  ASSERT_TRUE(RmsNorm(*ctx_, dx.f32(), dw.f32(), rows, d, 1e-5f, dout->f32()).ok());
  auto got = Download(*dout, x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x[r * d + i]) * x[r * d + i];
    const float sc = static_cast<float>(1.0 / std::sqrt(ss / d + 1e-5));
    for (int64_t i = 0; i < d; ++i) {
      ASSERT_NEAR(got[r * d + i], w[i] * (x[r * d + i] * sc),
                  1e-5f * (1 + std::fabs(got[r * d + i])));
    }
  }
  ASSERT_TRUE(AddBias(*ctx_, dx.f32(), db.f32(), rows, d).ok());
  got = Download(dx, x.size());
  for (int64_t i = 0; i < rows * d; ++i) ASSERT_FLOAT_EQ(got[i], x[i] + b[i % d]);
  DeviceBuffer dg = Upload(x), du = Upload(w);
  ASSERT_TRUE(SwiGlu(*ctx_, dg.f32(), du.f32(), d).ok());
  got = Download(dg, static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) {
    ASSERT_NEAR(got[i], x[i] / (1 + std::exp(-x[i])) * w[i], 1e-5f * (1 + std::fabs(got[i])));
  }
  ASSERT_TRUE(Add(*ctx_, dg.f32(), du.f32(), d).ok());
  EXPECT_TRUE(ctx_->Synchronize().ok());
}

TEST_F(CudaKernelsTest, RopeBothStyles) {
  std::mt19937 rng(6);
  const int64_t n = 3, heads = 2, hd = 64, half = hd / 2, positions = 10, pos0 = 4;
  std::vector<float> cs(positions * half), sn(positions * half);
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double a = p * std::pow(10000.0, -2.0 * i / hd);
      cs[p * half + i] = static_cast<float>(std::cos(a));
      sn[p * half + i] = static_cast<float>(std::sin(a));
    }
  }
  DeviceBuffer dc = Upload(cs), ds = Upload(sn);
  for (bool inter : {false, true}) {
    auto x = RandomActivations(n, heads * hd, 1.0f, &rng);
    DeviceBuffer dx = Upload(x);
    ASSERT_TRUE(Rope(*ctx_, dx.f32(), n, heads, hd, dc.f32(), ds.f32(), pos0, inter).ok());
    auto got = Download(dx, x.size());
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t h = 0; h < heads; ++h) {
        const float* p = &x[(t * heads + h) * hd];
        const float* g = &got[(t * heads + h) * hd];
        for (int64_t j = 0; j < half; ++j) {
          const float c = cs[(pos0 + t) * half + j], s = sn[(pos0 + t) * half + j];
          const int64_t i0 = inter ? 2 * j : j, i1 = inter ? 2 * j + 1 : j + half;
          ASSERT_NEAR(g[i0], p[i0] * c - p[i1] * s, 1e-6f);
          ASSERT_NEAR(g[i1], p[i1] * c + p[i0] * s, 1e-6f);
        }
      }
    }
  }
}

TEST_F(CudaKernelsTest, AttentionMatchesSoftmaxLoop) {
  std::mt19937 rng(7);
  for (int64_t hd : {32, 64, 128, 96}) {
    for (int64_t pos0 : {0, 5, 70}) {
      const int64_t n = 4, nh = 6, nkv = 2, qd = nh * hd, kvd = nkv * hd, total = pos0 + n;
      auto q = RandomActivations(n, qd, 1.0f, &rng);
      auto kc = RandomActivations(total, kvd, 1.0f, &rng);
      auto vc = RandomActivations(total, kvd, 1.0f, &rng);
      DeviceBuffer dq = Upload(q), dk = Upload(kc), dv = Upload(vc);
      auto dout = DeviceBuffer::Alloc(q.size() * 4);
      ASSERT_TRUE(dout.ok());
      Status st = Attention(*ctx_, dq.f32(), dk.f32(), dv.f32(), n, pos0, nh, nkv, hd, dout->f32());
      ASSERT_TRUE(st.ok()) << st.message();
      auto got = Download(*dout, q.size());
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t h = 0; h < nh; ++h) {
          const int64_t kvh = h / (nh / nkv), len = pos0 + i + 1;
          std::vector<double> s(static_cast<size_t>(len));
          double mx = -1e300, sum = 0;
          for (int64_t j = 0; j < len; ++j) {
            double dot = 0;
            for (int64_t e = 0; e < hd; ++e)
              dot += q[i * qd + h * hd + e] * kc[j * kvd + kvh * hd + e];
            s[j] = dot * scale;
            mx = std::max(mx, s[j]);
          }
          for (auto& v : s) sum += (v = std::exp(v - mx));
          for (int64_t e = 0; e < hd; ++e) {
            double o = 0;
            for (int64_t j = 0; j < len; ++j) o += s[j] / sum * vc[j * kvd + kvh * hd + e];
            ASSERT_NEAR(got[i * qd + h * hd + e], o, 2e-5)
                << "hd " << hd << " pos0 " << pos0 << " query " << i << " head " << h;
          }
        }
      }
    }
  }
  // Unsupported head sizes are refused, not computed wrongly.
  EXPECT_FALSE(Attention(*ctx_, nullptr, nullptr, nullptr, 1, 0, 1, 1, 48, nullptr).ok());
}

}  // namespace
}  // namespace tritium::cuda
