// warp: N affine crops from one frame in one pass (uint8, or float32 NCHW normalised for a
// model), and the same warp for float maps (paste a crop-space map back into the frame).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "pixel_ops.hpp"

namespace facecore {

// Forward source->destination matrices (cv2.warpAffine without WARP_INVERSE_MAP) to the
// destination->source maps the kernels sample with; `inverse_given` means they already are.
// Inverted in double, then rounded to float32 as OpenCV does. Refuses non-finite and singular
// matrices.
inline std::vector<px::Affine> sampling_maps(const double* matrices, std::int64_t n,
                                             bool inverse_given) {
    std::vector<px::Affine> maps(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        const double* m = matrices + 6 * i;
        // (the messages are built only on failure: this runs for every crop of every call)
        for (int k = 0; k < 6; ++k)
            if (!std::isfinite(m[k]))
                throw ArgumentError("matrices: matrix " + std::to_string(i) +
                                    " has a non-finite entry");
        const double det = m[0] * m[4] - m[1] * m[3];
        if (!(std::isfinite(det) && std::fabs(det) > 1e-12))
            throw ArgumentError("matrices: matrix " + std::to_string(i) +
                                " is singular (determinant " + std::to_string(det) + ")");
        px::Affine a{};
        if (inverse_given) {
            a = {static_cast<float>(m[0]), static_cast<float>(m[1]), static_cast<float>(m[2]),
                 static_cast<float>(m[3]), static_cast<float>(m[4]), static_cast<float>(m[5])};
        } else {
            const double d = 1.0 / det;
            const double a00 = m[4] * d, a01 = -m[1] * d, a10 = -m[3] * d, a11 = m[0] * d;
            a = {static_cast<float>(a00),
                 static_cast<float>(a01),
                 static_cast<float>(-a00 * m[2] - a01 * m[5]),
                 static_cast<float>(a10),
                 static_cast<float>(a11),
                 static_cast<float>(-a10 * m[2] - a11 * m[5])};
        }
        maps[static_cast<std::size_t>(i)] = a;
    }
    return maps;
}

// The arguments' checks, shared by the CPU and CUDA kernels (same refusals, same messages).
// Sides stay below 32768 so the fixed-point coordinate arithmetic is exact.
inline void check_warp_args(std::int64_t n, std::int64_t out_h, std::int64_t out_w,
                            std::int64_t height, std::int64_t width, std::int64_t channels) {
    require(n >= 1, "matrices: need at least one matrix");
    require(out_h >= 1 && out_w >= 1, "shape: output height and width must be positive");
    require(out_h <= 32767 && out_w <= 32767, "shape: output sides must be below 32768");
    require(height >= 1 && width >= 1, "image: height and width must be positive");
    require(height <= 32767 && width <= 32767, "image: sides must be below 32768");
    require(channels >= 1 && channels <= 4, "image: 1 to 4 channels");
    checked_size({n, out_h, out_w, channels}, "shape");
}

namespace cpu {

// out: (n, out_h, out_w, channels) uint8, contiguous. fill: one value per channel.
void warp_affine_u8(const ImageView<const std::uint8_t>& src, const double* matrices,
                    std::int64_t n, bool inverse_given, std::int64_t out_h, std::int64_t out_w,
                    Border border, const int* fill, std::uint8_t* out);

// out: (n, channels, out_h, out_w) float32, contiguous: (warped uint8 value - mean[c]) / std[c]
// where c is the output channel; swap_rb reverses the channel order (BGR <-> RGB, 3 or 4
// channels). The warped value is the one warp_affine_u8 gives, so both outputs agree.
void warp_affine_to_nchw_f32(const ImageView<const std::uint8_t>& src, const double* matrices,
                             std::int64_t n, bool inverse_given, std::int64_t out_h,
                             std::int64_t out_w, Border border, const int* fill, const float* mean,
                             const float* std, bool swap_rb, float* out);

// Float maps / images: out (n, out_h, out_w, channels) float32, contiguous.
void warp_affine_f32(const ImageView<const float>& src, const double* matrices, std::int64_t n,
                     bool inverse_given, std::int64_t out_h, std::int64_t out_w, Border border,
                     float fill, float* out);

}  // namespace cpu
}  // namespace facecore
