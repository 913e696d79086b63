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

void check_same(const ImageView<const std::uint8_t>& a, std::int64_t h, std::int64_t w,
                std::int64_t c, const char* name) {
    require(a.height == h && a.width == w && a.channels == c,
            std::string(name) + ": shape must equal the image's");
}

// Pixels are processed in blocks laid out as structure-of-arrays, so the per-pixel maths
// (pixel_ops.hpp, branch-free) vectorises; a block whose alpha is all zero is copied.
constexpr std::int64_t kBlock = 256;

#include "blend_block.inc"

}  // namespace

void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out) {
    const std::int64_t H = base.height, W = base.width, C = base.channels;
    require(H >= 1 && W >= 1 && C >= 1 && C <= 4, "base: need (H, W) or (H, W, 1..4), non-empty");
    check_same(effect, H, W, C, "effect");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(out.height == H && out.width == W && out.channels == C, "out: wrong shape");
    const BlendRowFn row = pick(avx2::blend_row, &blend_row);
    parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> wide(static_cast<std::size_t>(kBlendBlock * C));
        for (std::int64_t y = begin; y < end; ++y)
            row(base.row(y), effect.row(y), alpha.row(y), W, C, out.row(y), wide.data());
    });
}

LabStats lab_stats_u8(const ImageView<const std::uint8_t>& image,
                      const ImageView<const float>& alpha, std::int64_t step) {
    const std::int64_t H = image.height, W = image.width;
    require(H >= 1 && W >= 1 && image.channels == 3, "image: need (H, W, 3) BGR, non-empty");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(step >= 1, "step: must be >= 1");
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
    const std::int64_t H = image.height, W = image.width;
    require(H >= 1 && W >= 1 && image.channels == 3, "image: need (H, W, 3) BGR, non-empty");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(out.height == H && out.width == W && out.channels == 3, "out: wrong shape");
    require(std::isfinite(strength), "strength: must be finite");
    for (int c = 0; c < 3; ++c)
        require(std::isfinite(target_bgr[c]) && target_bgr[c] >= 0.0f && target_bgr[c] <= 255.0f,
                "color: channels must be in [0, 255]");
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
            require(std::isfinite(source[0]) && std::isfinite(source[1]),
                    "source: mean and std must be finite");
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
