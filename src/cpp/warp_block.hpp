// The AVX2 clone of the uint8 warp's destination rows (warp_avx2.cpp), for 3 and 4 channels.
#pragma once

#include <cstdint>

#include "common.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cpu {

// One destination row y of one crop: interleaved uint8 into row_u8 (out_w * C), or, when
// row_u8 is null, normalised float planes (planes[c] + x from source channel
// source_channel[c]: (v - mean[c]) / std[c]).
struct WarpRowArgs {
    const std::uint8_t* src;
    std::int64_t height, width, row_stride;
    const px::Affine* map;
    int y;
    std::int64_t out_w;
    Border border;
    const float* fill;
    std::uint8_t* row_u8;
    const float* mean;
    const float* std;
    const float* inv_std;  // non-null where (v - mean) * inv_std is (v - mean) / std for all v
    const int* source_channel;
    float* const* planes;
};

using WarpRowFn = void (*)(const WarpRowArgs&);

// Rows ahead whose source lines are prefetched while a row is computed (measured on the
// benchmark's crops: 1 row ahead is too late, 3 best, 8 no better).
constexpr int kPrefetchRows = 3;

namespace avx2 {
// Null where the AVX2 build is absent (non-x86 or non-GNU compilers).
extern const WarpRowFn warp_row3;
extern const WarpRowFn warp_row4;
}  // namespace avx2

}  // namespace cpu
}  // namespace facecore
