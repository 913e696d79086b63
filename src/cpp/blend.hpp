// blend: out = (1 - a) * base + a * effect under a float alpha map, and the recolour effect
// (Lab or HSV) fused with that blend so the recoloured layer is never stored.
#pragma once

#include <cstdint>

#include "common.hpp"

namespace facecore {

enum class ColourSpace : int { Lab = 0, Hsv = 1 };

namespace cpu {

// base, effect, out: (H, W, C) uint8 views of one shape; alpha: (H, W) float32 view
// (values clamped to [0, 1], NaN as 0). Rounded half up.
void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out);

// image, out: (H, W, 3) uint8 BGR; alpha (H, W) float32. target_bgr: the colour, 0..255.
// Lab keeps L and moves a/b toward the target's; HSV keeps V, moves H and S.
void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out);

}  // namespace cpu
}  // namespace facecore
