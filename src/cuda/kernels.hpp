// The CUDA twins of src/cpp's kernels: the same names and arguments in namespace
// facecore::cuda, plus the stream they run on. Image, map and output pointers are device
// memory; the small parameter arrays (matrices, fill, mean, std, the refine kernel, the
// colour) are host memory, copied into the stream by the function. Every function queues its
// work on `stream` and returns without synchronising; every batch is one kernel launch
// (accumulate "mean" is three: two scans and the per-pixel pass; refine one per iteration).
// Arguments are checked as the CPU kernels check them (ArgumentError -> ValueError).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "blend.hpp"  // ColourSpace
#include "common.hpp"
#include "windows.hpp"  // WindowGrid

namespace facecore {
namespace cuda {

// ------------------------------------------------------------------------------------- warp
void warp_affine_u8(const ImageView<const std::uint8_t>& src, const double* matrices,
                    std::int64_t n, bool inverse_given, std::int64_t out_h, std::int64_t out_w,
                    Border border, const int* fill, std::uint8_t* out, cudaStream_t stream);

void warp_affine_to_nchw_f32(const ImageView<const std::uint8_t>& src, const double* matrices,
                             std::int64_t n, bool inverse_given, std::int64_t out_h,
                             std::int64_t out_w, Border border, const int* fill, const float* mean,
                             const float* std, bool swap_rb, float* out, cudaStream_t stream);

void warp_affine_f32(const ImageView<const float>& src, const double* matrices, std::int64_t n,
                     bool inverse_given, std::int64_t out_h, std::int64_t out_w, Border border,
                     float fill, float* out, cudaStream_t stream);

// ---------------------------------------------------------------------------------- windows
void extract_windows_nchw_f32(const ImageView<const std::uint8_t>& src, const WindowGrid& g,
                              std::int64_t first, std::int64_t count, const float* mean,
                              const float* std, bool swap_rb, float* out, cudaStream_t stream);

// scores (device): (grid_h, grid_w) float32; out (device): (image_h, image_w) float32.
void accumulate_windows_f32(const float* scores, const WindowGrid& g, int reduce, float fill,
                            float* out, cudaStream_t stream);

// ----------------------------------------------------------------------------------- refine
// in, out (device) may be the same buffer; kernel is host memory.
void refine_map_f32(const float* in, std::int64_t height, std::int64_t width, float power,
                    const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                    int iterations, float* out, cudaStream_t stream);

// ----------------------------------------------------------------------------------- guided
// guide (device): (H, W[, 3]) uint8 view; alpha (device): (h, w) float32 contiguous;
// out (device): (H, W) float32 contiguous.
void guided_upsample_f32(const ImageView<const std::uint8_t>& guide, const float* alpha,
                         std::int64_t h, std::int64_t w, int radius, float eps, float* out,
                         cudaStream_t stream);

// ------------------------------------------------------------------------------------ blend
void blend_u8(const ImageView<const std::uint8_t>& base,
              const ImageView<const std::uint8_t>& effect, const ImageView<const float>& alpha,
              const ImageView<std::uint8_t>& out, cudaStream_t stream);

void recolor_u8(const ImageView<const std::uint8_t>& image, const ImageView<const float>& alpha,
                ColourSpace space, const float* target_bgr, float strength,
                const ImageView<std::uint8_t>& out, cudaStream_t stream,
                const float* source = nullptr);

// The hair's lightness statistics (as the CPU's lab_stats_u8; synchronises the stream).
LabStats lab_stats_u8(const ImageView<const std::uint8_t>& image,
                      const ImageView<const float>& alpha, std::int64_t step, cudaStream_t stream);

}  // namespace cuda
}  // namespace facecore
