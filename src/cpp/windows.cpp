#include "windows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "parallel.hpp"

namespace facecore {

namespace cpu {

void extract_windows_nchw_f32(const ImageView<const std::uint8_t>& src, const WindowGrid& g,
                              std::int64_t first, std::int64_t count, const float* mean,
                              const float* std, bool swap_rb, float* out) {
    check_extract_args(src.height, src.width, src.channels, g, first, count, mean, std, swap_rb);
    const int C = static_cast<int>(src.channels);
    if (count == 0) return;
    int source_channel[4] = {0, 1, 2, 3};
    if (swap_rb) std::swap(source_channel[0], source_channel[2]);
    const std::int64_t gw = g.grid_w(), wh = g.window_h, ww = g.window_w, W = g.image_w;
    // Normalise the rows this batch touches once, into planes (output channel order), so
    // every window row is then a plain copy of `ww` floats: windows overlap, and at stride 1
    // each pixel would otherwise be converted wh * ww times.
    const std::int64_t y_lo = (first / gw) * g.stride_y;
    const std::int64_t y_hi = ((first + count - 1) / gw) * g.stride_y + wh;
    const std::int64_t rows = y_hi - y_lo;
    std::vector<float> planes(static_cast<std::size_t>(C * rows * W));
    parallel_for(rows, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
            const std::uint8_t* row = src.row(y_lo + r);
            for (int c = 0; c < C; ++c) {
                const int sc = source_channel[c];
                const float mu = mean[c], sd = std[c];
                float* o = planes.data() + (c * rows + r) * W;
                for (std::int64_t x = 0; x < W; ++x)
                    o[x] = (static_cast<float>(row[x * C + sc]) - mu) / sd;  // NumPy's expression
            }
        }
    });
    const std::int64_t plane = wh * ww;
    const std::size_t row_bytes = static_cast<std::size_t>(ww) * sizeof(float);
    parallel_for(count, 8, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t k = begin; k < end; ++k) {
            const std::int64_t index = first + k;
            const std::int64_t oy = (index / gw) * g.stride_y - y_lo,
                               ox = (index % gw) * g.stride_x;
            float* dst = out + k * C * plane;
            for (int c = 0; c < C; ++c) {
                const float* src_plane = planes.data() + (c * rows + oy) * W + ox;
                float* plane_out = dst + c * plane;
                for (std::int64_t r = 0; r < wh; ++r)
                    std::memcpy(plane_out + r * ww, src_plane + r * W, row_bytes);
            }
        }
    });
}

void accumulate_windows_f32(const float* scores, const WindowGrid& g, int reduce, float fill,
                            float* out) {
    check_accumulate_args(g, reduce);
    const std::int64_t gh = g.grid_h(), gw = g.grid_w();
    const std::int64_t H = g.image_h, W = g.image_w;
    if (reduce == 0) {
        // Window row i covers image rows [i*sy, i*sy + wh). Pixel row y is covered by window
        // rows lo(y)..hi(y); the sum over that block of scores comes from a 2D prefix sum in
        // double (exact enough, and independent of the thread partition).
        std::vector<double> prefix(static_cast<std::size_t>((gh + 1) * (gw + 1)), 0.0);
        for (std::int64_t i = 0; i < gh; ++i) {
            double run = 0.0;
            for (std::int64_t j = 0; j < gw; ++j) {
                run += static_cast<double>(scores[i * gw + j]);
                prefix[static_cast<std::size_t>((i + 1) * (gw + 1) + j + 1)] =
                    prefix[static_cast<std::size_t>(i * (gw + 1) + j + 1)] + run;
            }
        }
        auto range = [](std::int64_t p, std::int64_t window, std::int64_t stride, std::int64_t n,
                        std::int64_t& lo, std::int64_t& hi) {
            // windows i with i*stride <= p <= i*stride + window - 1
            lo = p - window + 1 <= 0 ? 0 : (p - window + 1 + stride - 1) / stride;
            hi = std::min(n - 1, p / stride);
        };
        std::vector<std::int64_t> x_lo(static_cast<std::size_t>(W)),
            x_hi(static_cast<std::size_t>(W));
        for (std::int64_t x = 0; x < W; ++x)
            range(x, g.window_w, g.stride_x, gw, x_lo[static_cast<std::size_t>(x)],
                  x_hi[static_cast<std::size_t>(x)]);
        parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t y = begin; y < end; ++y) {
                std::int64_t y_lo, y_hi;
                range(y, g.window_h, g.stride_y, gh, y_lo, y_hi);
                const double* top = prefix.data() + y_lo * (gw + 1);
                const double* bottom = prefix.data() + (y_hi + 1) * (gw + 1);
                float* o = out + y * W;
                for (std::int64_t x = 0; x < W; ++x) {
                    const std::int64_t lo = x_lo[static_cast<std::size_t>(x)],
                                       hi = x_hi[static_cast<std::size_t>(x)];
                    if (y_lo > y_hi || lo > hi) {
                        o[x] = fill;
                        continue;
                    }
                    const double sum = bottom[hi + 1] - bottom[lo] - top[hi + 1] + top[lo];
                    const double n = static_cast<double>((y_hi - y_lo + 1) * (hi - lo + 1));
                    o[x] = static_cast<float>(sum / n);
                }
            }
        });
        return;
    }
    // centre: grid position of pixel p is (p - (window-1)/2) / stride, clamped to the grid.
    auto position = [](std::int64_t p, std::int64_t window, std::int64_t stride, std::int64_t n,
                       std::int64_t& i0, std::int64_t& i1, float& f) {
        const double t = (static_cast<double>(p) - 0.5 * static_cast<double>(window - 1)) /
                         static_cast<double>(stride);
        if (t <= 0.0 || n == 1) {
            i0 = i1 = 0;
            f = 0.0f;
        } else if (t >= static_cast<double>(n - 1)) {
            i0 = i1 = n - 1;
            f = 0.0f;
        } else {
            i0 = static_cast<std::int64_t>(t);
            i1 = i0 + 1;
            f = static_cast<float>(t - static_cast<double>(i0));
        }
    };
    std::vector<std::int64_t> x0(static_cast<std::size_t>(W)), x1(static_cast<std::size_t>(W));
    std::vector<float> fx(static_cast<std::size_t>(W));
    for (std::int64_t x = 0; x < W; ++x)
        position(x, g.window_w, g.stride_x, gw, x0[static_cast<std::size_t>(x)],
                 x1[static_cast<std::size_t>(x)], fx[static_cast<std::size_t>(x)]);
    parallel_for(H, 8, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t y = begin; y < end; ++y) {
            std::int64_t y0, y1;
            float fy;
            position(y, g.window_h, g.stride_y, gh, y0, y1, fy);
            const float* r0 = scores + y0 * gw;
            const float* r1 = scores + y1 * gw;
            float* o = out + y * W;
            for (std::int64_t x = 0; x < W; ++x) {
                const std::size_t s = static_cast<std::size_t>(x);
                const float top = r0[x0[s]] + (r0[x1[s]] - r0[x0[s]]) * fx[s];
                const float bot = r1[x0[s]] + (r1[x1[s]] - r1[x0[s]]) * fx[s];
                o[x] = top + (bot - top) * fy;
            }
        }
    });
}

}  // namespace cpu
}  // namespace facecore
