// The colour maths of one block of recolour_u8, in structure-of-arrays form so the loops
// vectorise. Compiled twice from this one source: blend.cpp (the build's baseline ISA) and
// blend_avx2.cpp (x86-64-v3: 8 float lanes), picked at run time by the CPU. No FMA in either
// (-ffp-contract=off) and IEEE division and square root, so both give the same bits.
// Include after defining FACECORE_BLOCK_NS.
#pragma once

#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "pixel_ops.hpp"

namespace facecore {
namespace cpu {

struct RecolorParams {
    const px::ColourTables* tables;
    float ta, tb, th, ts, strength;
    int space;        // ColourSpace: 0 lab, 1 hsv, 2 transfer, 3 natural
    px::Transfer tr;  // transfer / natural only
};

using RecolorBlockFn = void (*)(const RecolorParams&, const std::uint8_t*, std::uint8_t*,
                                std::int64_t, float*, float*, float*, float*, float*, float*,
                                const float*);

// One row of blend_u8 (base, effect, alpha, width, channels, out, scratch of
// kBlendBlock * channels floats).
constexpr std::int64_t kBlendBlock = 256;
using BlendRowFn = void (*)(const std::uint8_t*, const std::uint8_t*, const float*, std::int64_t,
                            std::int64_t, std::uint8_t*, float*);

namespace avx2 {
// Null where the AVX2 build is absent (non-x86 or non-GNU compilers).
extern const RecolorBlockFn recolor_block;
extern const BlendRowFn blend_row;
}  // namespace avx2

}  // namespace cpu
}  // namespace facecore
