// refine: sharpen p -> 1 - (1 - p)^power, then a small correlation kernel (the seed's 3x3
// "LBP-conv" by default), fused in one pass per iteration, replicate borders, output in [0, 1].
#pragma once

#include <cstdint>

#include "common.hpp"

namespace facecore {
namespace cpu {

// in, out: (height, width) float32, contiguous; they may be the same buffer.
// kernel: (kernel_h, kernel_w) float32, odd sides, used as cv2.filter2D does (correlation,
// anchor at the centre).
void refine_map_f32(const float* in, std::int64_t height, std::int64_t width, float power,
                    const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                    int iterations, float* out);

}  // namespace cpu
}  // namespace facecore
