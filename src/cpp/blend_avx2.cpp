// The recolour block and the blend row compiled for x86-64-v3 (AVX2); CMake adds -march=x86-64-v3
// to this file only. Elsewhere it exports a null pointer and blend.cpp uses its baseline build.
#include <cstdint>

#include "blend_block.hpp"

namespace facecore {
namespace cpu {

#if defined(FACECORE_HAVE_AVX2_TU)
namespace {
#include "blend_block.inc"
}  // namespace
namespace avx2 {
const RecolorBlockFn recolor_block = &facecore::cpu::recolor_block;
const BlendRowFn blend_row = &facecore::cpu::blend_row;
}  // namespace avx2
#else
namespace avx2 {
const RecolorBlockFn recolor_block = nullptr;
const BlendRowFn blend_row = nullptr;
}  // namespace avx2
#endif

}  // namespace cpu
}  // namespace facecore
