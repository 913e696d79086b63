// blend: out = (1 - a) * base + a * effect under a float alpha map, and the recolour effect
// (Lab or HSV) fused with that blend so the recoloured layer is never stored.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"
#include "pixel_ops.hpp"

namespace facecore {

// Lab: keep L, move a/b; Hsv: keep V, move H/S; Transfer: move the hair's L distribution
// and chroma to the target's (pixel_ops.hpp, "colour transfer"); Natural: the same, halfway
// in lightness, highlights kept.
enum class ColourSpace : int { Lab = 0, Hsv = 1, Transfer = 2, Natural = 3 };

// The hair's lightness statistics for the transfer: alpha-weighted mean and spread of L over
// the pixels on a `step` grid whose alpha is >= 0.5 (all pixels with alpha > 0 if none is).
using LabStats = px::LabStats;

// The arguments' checks, shared by the CPU and CUDA kernels (same refusals, same messages).
inline void check_blend_args(const ImageView<const std::uint8_t>& base,
                             const ImageView<const std::uint8_t>& effect,
                             const ImageView<const float>& alpha,
                             const ImageView<std::uint8_t>& out) {
    const std::int64_t H = base.height, W = base.width, C = base.channels;
    require(H >= 1 && W >= 1 && C >= 1 && C <= 4, "base: need (H, W) or (H, W, 1..4), non-empty");
    require(effect.height == H && effect.width == W && effect.channels == C,
            "effect: shape must equal the image's");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(out.height == H && out.width == W && out.channels == C, "out: wrong shape");
}

inline void check_lab_stats_args(const ImageView<const std::uint8_t>& image,
                                 const ImageView<const float>& alpha, std::int64_t step) {
    const std::int64_t H = image.height, W = image.width;
    require(H >= 1 && W >= 1 && image.channels == 3, "image: need (H, W, 3) BGR, non-empty");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(step >= 1, "step: must be >= 1");
}

// source: {mean L, std L} or nullptr (measured by the kernel).
inline void check_recolor_args(const ImageView<const std::uint8_t>& image,
                               const ImageView<const float>& alpha, const float* target_bgr,
                               float strength, const ImageView<std::uint8_t>& out,
                               const float* source) {
    const std::int64_t H = image.height, W = image.width;
    require(H >= 1 && W >= 1 && image.channels == 3, "image: need (H, W, 3) BGR, non-empty");
    require(alpha.height == H && alpha.width == W && alpha.channels == 1,
            "alpha: shape must be the image's (H, W)");
    require(out.height == H && out.width == W && out.channels == 3, "out: wrong shape");
    require(std::isfinite(strength), "strength: must be finite");
    for (int c = 0; c < 3; ++c)
        require(std::isfinite(target_bgr[c]) && target_bgr[c] >= 0.0f && target_bgr[c] <= 255.0f,
                "color: channels must be in [0, 255]");
    if (source != nullptr)
        require(std::isfinite(source[0]) && std::isfinite(source[1]),
                "source: mean and std must be finite");
}

namespace cpu {

// base, effect, out: (H, W, C) uint8 views of one shape; alpha: (H, W) float32 view
// (values clamped to [0, 1], NaN as 0). Rounded half up.
void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out);

// image, out: (H, W, 3) uint8 BGR; alpha (H, W) float32. target_bgr: the colour, 0..255.
// Lab keeps L and moves a/b toward the target's; HSV keeps V, moves H and S.
// source: {mean L, std L} of the hair for Transfer/Natural, or nullptr to measure it here
// (lab_stats, step 4).
void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out, const float* source = nullptr);

LabStats lab_stats_u8(const ImageView<const std::uint8_t>& image,
                      const ImageView<const float>& alpha, std::int64_t step);

}  // namespace cpu
}  // namespace facecore
