// refine: sharpen p -> 1 - (1 - p)^power, then a small correlation kernel (the seed's 3x3
// "LBP-conv" by default), fused in one pass per iteration, replicate borders, output in [0, 1].
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace facecore {

// The arguments' checks, shared by the CPU and CUDA kernels (same refusals, same messages).
// Returns the power as a small int when it is one (1..16: repeated multiplication, exact and
// fast), else 0 (std::pow).
inline int check_refine_args(std::int64_t height, std::int64_t width, float power,
                             const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                             int iterations) {
    require(height >= 1 && width >= 1, "p: height and width must be positive");
    checked_size({height, width}, "p");
    require(std::isfinite(power) && power > 0.0f, "power: must be finite and positive");
    require(kernel_h >= 1 && kernel_w >= 1 && kernel_h % 2 == 1 && kernel_w % 2 == 1 &&
                kernel_h <= 31 && kernel_w <= 31,
            "kernel: sides must be odd and at most 31");
    for (std::int64_t i = 0; i < kernel_h * kernel_w; ++i)
        require(std::isfinite(kernel[i]), "kernel: entries must be finite");
    require(iterations >= 0, "iterations: must be >= 0");
    const float rounded = std::nearbyint(power);
    return (rounded == power && power <= 16.0f) ? static_cast<int>(rounded) : 0;
}

namespace cpu {

// in, out: (height, width) float32, contiguous; they may be the same buffer.
// kernel: (kernel_h, kernel_w) float32, odd sides, used as cv2.filter2D does (correlation,
// anchor at the centre).
void refine_map_f32(const float* in, std::int64_t height, std::int64_t width, float power,
                    const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                    int iterations, float* out);

}  // namespace cpu
}  // namespace facecore
