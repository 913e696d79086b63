// refine's 3x3 row loops compiled for x86-64-v3 (AVX2); CMake adds -march=x86-64-v3 to this
// file only. Elsewhere it exports null pointers and refine.cpp uses its baseline build.
#include <cstdint>

#include "pixel_ops.hpp"
#include "refine_block.hpp"

namespace facecore {
namespace cpu {

#if defined(FACECORE_HAVE_AVX2_TU)
namespace {
#include "refine_block.inc"
}  // namespace
namespace avx2 {
const SharpenRowFn sharpen_row = &facecore::cpu::sharpen_row;
const Conv3RowFn conv3_row = &facecore::cpu::conv3_row;
}  // namespace avx2
#else
namespace avx2 {
const SharpenRowFn sharpen_row = nullptr;
const Conv3RowFn conv3_row = nullptr;
}  // namespace avx2
#endif

}  // namespace cpu
}  // namespace facecore
