#include "blend.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "blend_block.hpp"
#include "isa.hpp"
#include "parallel.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cpu {
namespace {

const px::ColourTables& colour_tables() {
    static const px::ColourTables* tables = [] {
        auto* t = new px::ColourTables;
        px::fill_colour_tables(*t);
        return t;
    }();
    return *tables;
}

// Pixels are processed in blocks laid out as structure-of-arrays, so the per-pixel maths
// (pixel_ops.hpp, branch-free) vectorises; a block whose alpha is all zero is copied.
constexpr std::int64_t kBlock = 256;

#include "blend_block.inc"

}  // namespace

void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out) {
    check_blend_args(base, effect, alpha, out);
    const std::int64_t H = base.height, W = base.width, C = base.channels;
    const BlendRowFn row = pick(avx2::blend_row, &blend_row);
    parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> wide(static_cast<std::size_t>(kBlendBlock * C));
        for (std::int64_t y = begin; y < end; ++y)
            row(base.row(y), effect.row(y), alpha.row(y), W, C, out.row(y), wide.data());
    });
}

LabStats lab_stats_u8(const ImageView<const std::uint8_t>& image,
                      const ImageView<const float>& alpha, std::int64_t step) {
    check_lab_stats_args(image, alpha, step);
    const std::int64_t H = image.height, W = image.width;
    const px::ColourTables& t = colour_tables();
    const std::int64_t rows = (H + step - 1) / step;
    std::vector<double> partial(static_cast<std::size_t>(6 * rows));
    parallel_for(rows, 8, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r)
            px::lab_stats_row(image.row(r * step), alpha.row(r * step), W, step, t.to_linear,
                              partial.data() + 6 * r);
    });
    return px::lab_stats_total(partial.data(), rows);
}

void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out, const float* source) {
    check_recolor_args(image, alpha, target_bgr, strength, out, source);
    const std::int64_t H = image.height, W = image.width;
    const px::ColourTables& t = colour_tables();
    // The target's chroma (Lab a/b) and hue/saturation, with the same pixel maths.
    float ta, tb, th, ts;
    {
        const float r = target_bgr[2] / 255.0f, g = target_bgr[1] / 255.0f,
                    b = target_bgr[0] / 255.0f;
        float L, v;
        px::linear_rgb_to_lab(px::srgb_to_linear(r), px::srgb_to_linear(g), px::srgb_to_linear(b),
                              L, ta, tb);
        px::rgb_to_hsv(r, g, b, th, ts, v);
    }
    RecolorParams rp{&t, ta, tb, th, ts, strength, static_cast<int>(space), {}};
    if (space == ColourSpace::Transfer || space == ColourSpace::Natural) {
        float mu, sd;
        if (source != nullptr) {
            mu = source[0];
            sd = source[1];
        } else {
            const LabStats st = lab_stats_u8(image, alpha, 4);
            mu = static_cast<float>(st.mean);
            sd = static_cast<float>(st.std);
        }
        rp.tr = px::transfer_for(mu, sd, target_bgr, space == ColourSpace::Natural);
    }
    // AVX2 where the CPU has it (same bits, twice the lanes), else the baseline build.
    const RecolorBlockFn block = pick(avx2::recolor_block, &recolor_block);
    parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
        // SoA scratch: the pixel's channels in (linear for Lab), the layer out, alpha.
        std::vector<float> buf(static_cast<std::size_t>(7 * kBlock));
        float* in0 = buf.data();
        float* in1 = in0 + kBlock;
        float* in2 = in1 + kBlock;
        float* l0 = in2 + kBlock;
        float* l1 = l0 + kBlock;
        float* l2 = l1 + kBlock;
        float* aa = l2 + kBlock;
        for (std::int64_t y = begin; y < end; ++y) {
            const std::uint8_t* s = image.row(y);
            const float* a = alpha.row(y);
            std::uint8_t* o = out.row(y);
            for (std::int64_t x0 = 0; x0 < W; x0 += kBlock) {
                const std::int64_t n = std::min(kBlock, W - x0);
                const std::uint8_t* p = s + 3 * x0;
                std::uint8_t* q = o + 3 * x0;
                bool any = false;
                for (std::int64_t x = 0; x < n; ++x) {
                    aa[x] = px::clamp01(a[x0 + x]);
                    any = any || aa[x] > 0.0f;
                }
                if (!any) {  // (1 - 0) * v + 0 rounds back to v
                    if (q != p) std::memmove(q, p, static_cast<std::size_t>(3 * n));
                    continue;
                }
                block(rp, p, q, n, in0, in1, in2, l0, l1, l2, aa);
            }
        }
    });
}

}  // namespace cpu
}  // namespace facecore
