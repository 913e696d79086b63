// windows: every window_h x window_w window at a stride, as model-ready float32 NCHW batches
// (a batch at a time, so memory stays bounded), and window scores accumulated back into a map.
#pragma once

#include <cstdint>
#include <string>

#include "common.hpp"

namespace facecore {

// Windows lie on a grid: grid_h x grid_w origins (y * stride_y, x * stride_x), in row-major
// order. Window k has origin ((k % grid_w) * stride_x, (k / grid_w) * stride_y).
struct WindowGrid {
    std::int64_t image_h, image_w, window_h, window_w, stride_y, stride_x;
    std::int64_t grid_h() const { return (image_h - window_h) / stride_y + 1; }
    std::int64_t grid_w() const { return (image_w - window_w) / stride_x + 1; }
    std::int64_t count() const { return grid_h() * grid_w(); }
};

// The grid of an image, refusing windows larger than the image, non-positive sizes and
// strides. Inline here: _core and _cuda both check with it and give the same messages.
inline WindowGrid make_grid(std::int64_t image_h, std::int64_t image_w, std::int64_t window_h,
                            std::int64_t window_w, std::int64_t stride_y, std::int64_t stride_x) {
    require(image_h >= 1 && image_w >= 1, "image: height and width must be positive");
    require(window_h >= 1 && window_w >= 1, "window: height and width must be positive");
    require(stride_y >= 1 && stride_x >= 1, "stride: must be at least 1");
    require(window_h <= image_h && window_w <= image_w,
            "window: " + std::to_string(window_h) + "x" + std::to_string(window_w) +
                " is larger than the image (" + std::to_string(image_h) + "x" +
                std::to_string(image_w) + ")");
    return WindowGrid{image_h, image_w, window_h, window_w, stride_y, stride_x};
}

// The same checks on a grid already built (the kernels' own second check).
inline void check_grid(const WindowGrid& g) {
    make_grid(g.image_h, g.image_w, g.window_h, g.window_w, g.stride_y, g.stride_x);
}

// accumulate_windows' reduction (facecore._core.Reduce in Python).
enum class Reduce : int { Mean = 0, Centre = 1 };

// The arguments' checks, shared by the CPU and CUDA kernels (same refusals, same messages).
inline void check_extract_args(std::int64_t height, std::int64_t width, std::int64_t channels,
                               const WindowGrid& g, std::int64_t first, std::int64_t count,
                               const float* mean, const float* std, bool swap_rb) {
    check_grid(g);
    require(height == g.image_h && width == g.image_w, "image: shape disagrees with grid");
    require(channels >= 1 && channels <= 4, "image: 1 to 4 channels");
    require(first >= 0 && count >= 0 && first + count <= g.count(),
            "first/count: outside the window grid");
    check_normalise_args(channels, mean, std, swap_rb);
}

inline void check_accumulate_args(const WindowGrid& g, int reduce) {
    check_grid(g);
    require(reduce == static_cast<int>(Reduce::Mean) || reduce == static_cast<int>(Reduce::Centre),
            "reduce: must be 'mean' or 'centre'");
}

namespace cpu {

// Windows [first, first + count) into out (count, C, window_h, window_w) float32:
// (value - mean[c]) / std[c], channels reversed when swap_rb.
void extract_windows_nchw_f32(const ImageView<const std::uint8_t>& src, const WindowGrid& g,
                              std::int64_t first, std::int64_t count, const float* mean,
                              const float* std, bool swap_rb, float* out);

// scores: (grid_h, grid_w) float32, one per window. out: (image_h, image_w) float32.
// reduce 0 "mean": each pixel is the mean score of the windows that cover it (`fill` where
// none does). reduce 1 "centre": scores sit at their windows' centres and every pixel is
// interpolated bilinearly between them (edges replicated).
void accumulate_windows_f32(const float* scores, const WindowGrid& g, int reduce, float fill,
                            float* out);

}  // namespace cpu
}  // namespace facecore
