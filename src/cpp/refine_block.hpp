// The row loops of refine_map_f32 for 3x3 kernels, compiled twice from refine_block.inc:
// refine.cpp (the build's baseline ISA) and refine_avx2.cpp (x86-64-v3: 8 float lanes), picked
// at run time. No FMA in either (-ffp-contract=off), so both give the same bits.
#pragma once

#include <cstdint>

namespace facecore {
namespace cpu {

// slot[x] = sharpen(s[x]) for x < W (pixel_ops.hpp's px::sharpen).
using SharpenRowFn = void (*)(const float*, std::int64_t, float, int, float*);
// o[x] = clamp01(sum over ky, kx of k[3 ky + kx] * row_ky[x + kx]), taps added in row-major
// order; rows are padded by one replicated value on each side (row_ky[0] is column -1).
using Conv3RowFn = void (*)(const float*, const float*, const float*, const float*, std::int64_t,
                            float*);

namespace avx2 {
// Null where the AVX2 build is absent (non-x86 or non-GNU compilers).
extern const SharpenRowFn sharpen_row;
extern const Conv3RowFn conv3_row;
}  // namespace avx2

}  // namespace cpu
}  // namespace facecore
