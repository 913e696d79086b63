#include "blend.hpp"

#include <cmath>

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
    parallel_for(H, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t y = begin; y < end; ++y) {
            const std::uint8_t* b = base.row(y);
            const std::uint8_t* e = effect.row(y);
            const float* a = alpha.row(y);
            std::uint8_t* o = out.row(y);
            for (std::int64_t x = 0; x < W; ++x) {
                const float ax = px::clamp01(a[x]);
                for (std::int64_t c = 0; c < C; ++c)
                    o[x * C + c] = px::blend_u8(b[x * C + c], static_cast<float>(e[x * C + c]), ax);
            }
        }
    });
}

void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out) {
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
    // The target's chroma (Lab a/b) or hue/saturation, computed once with the pixel maths.
    float ta = 0.0f, tb = 0.0f, th = 0.0f, ts = 0.0f;
    {
        const float r = target_bgr[2] / 255.0f, g = target_bgr[1] / 255.0f,
                    b = target_bgr[0] / 255.0f;
        float L;
        px::linear_rgb_to_lab(t, px::srgb_to_linear(r), px::srgb_to_linear(g),
                              px::srgb_to_linear(b), L, ta, tb);
        float v;
        px::rgb_to_hsv(r, g, b, th, ts, v);
    }
    parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t y = begin; y < end; ++y) {
            const std::uint8_t* s = image.row(y);
            const float* a = alpha.row(y);
            std::uint8_t* o = out.row(y);
            for (std::int64_t x = 0; x < W; ++x) {
                const std::uint8_t* p = s + 3 * x;
                const float ax = px::clamp01(a[x]);
                if (ax == 0.0f) {  // (1 - 0) * v + 0 rounds back to v: skip the colour maths
                    o[3 * x] = p[0];
                    o[3 * x + 1] = p[1];
                    o[3 * x + 2] = p[2];
                    continue;
                }
                float layer[3];
                if (space == ColourSpace::Lab)
                    px::recolor_lab_px(t, p, ta, tb, strength, layer);
                else
                    px::recolor_hsv_px(p, th, ts, strength, layer);
                for (int c = 0; c < 3; ++c) o[3 * x + c] = px::blend_u8(p[c], layer[c], ax);
            }
        }
    });
}

}  // namespace cpu
}  // namespace facecore
