// guided: edge-aware upsampling of a low-resolution alpha map guided by the full-resolution
// frame, the fast guided filter (He & Sun 2015): the guided filter's coefficients a, b are
// computed at the low resolution with box filters (running sums, O(1) per pixel), then
// upsampled bilinearly and applied at full resolution, q = A * I + B.
//
// The steps, shared by the CPU and CUDA kernels (the per-pixel and per-line maths live in
// pixel_ops.hpp):
//   1. I_low (h, w): mean luma of the guide over each low pixel's footprint (area_luma);
//   2. box sums (radius r, clipped windows) of I, p, I*p, I*I in double; a, b (guided_ab);
//   3. box means of a and b -> float32 (h, w) coefficient maps;
//   4. per full-resolution pixel: A, B resized as cv2.resize INTER_LINEAR, q = clip(A*I + B).
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace facecore {

inline void check_guided_args(std::int64_t H, std::int64_t W, std::int64_t C, std::int64_t h,
                              std::int64_t w, int radius, float eps) {
    require(H >= 1 && W >= 1, "guide: height and width must be positive");
    require(C == 1 || C == 3, "guide: expected (H, W) grey or (H, W, 3) BGR");
    require(H <= 0x7fffffff && W <= 0x7fffffff, "guide: too large");
    checked_size({H, W, C}, "guide");
    require(h >= 1 && w >= 1, "alpha: height and width must be positive");
    require(h <= H && w <= W, "alpha: must not be larger than the guide");
    require(radius >= 1 && radius <= 255, "radius: must be in 1..255");
    require(std::isfinite(eps) && eps > 0.0f, "eps: must be finite and > 0");
}

namespace cpu {

// guide: (H, W) or (H, W, 3) uint8 BGR view; alpha: (h, w) float32 contiguous, h <= H, w <= W
// (values clamped to [0, 1], NaN as 0); out: (H, W) float32 contiguous, in [0, 1].
// radius: in low-resolution pixels; eps: the regulariser (in [0, 1]^2 units).
void guided_upsample_f32(const ImageView<const std::uint8_t>& guide, const float* alpha,
                         std::int64_t h, std::int64_t w, int radius, float eps, float* out);

}  // namespace cpu
}  // namespace facecore
