#include "guided.hpp"

#include <vector>

#include "parallel.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cpu {
namespace {

// Box sums of `planes` (k planes of h x w doubles, in place), rows then columns. Serial: the
// low-resolution maps are small (256 x 144: ~0.1 ms), and a thread hand-off costs more.
void box_planes(double* planes, int k, int h, int w, int r) {
    std::vector<double> tmp(static_cast<std::size_t>(k) * static_cast<std::size_t>(h * w));
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(k) * h; ++i)
        px::box_line(planes + i * w, 1, w, r, tmp.data() + i * w);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(k) * w; ++i) {
        const std::int64_t plane = i / w, x = i % w;
        const std::int64_t off = plane * h * w + x;
        px::box_line(tmp.data() + off, w, h, r, planes + off);
    }
}

}  // namespace

void guided_upsample_f32(const ImageView<const std::uint8_t>& guide, const float* alpha,
                         std::int64_t h64, std::int64_t w64, int radius, float eps, float* out) {
    check_guided_args(guide.height, guide.width, guide.channels, h64, w64, radius, eps);
    const int H = static_cast<int>(guide.height), W = static_cast<int>(guide.width);
    const int C = static_cast<int>(guide.channels), h = static_cast<int>(h64), w = static_cast<int>(w64);
    const std::size_t n = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
    // 1. the low-resolution guide, and the four planes I, p, I*p, I*I
    std::vector<double> planes(4 * n);
    parallel_for(h, 4, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t y = b; y < e; ++y)
            for (int x = 0; x < w; ++x) {
                const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x);
                const float I = px::area_luma(guide.data, guide.row_stride, C, H, W, h, w,
                                              static_cast<int>(y), x);
                const double di = I, dp = px::clamp01(alpha[i]);
                planes[i] = di;
                planes[n + i] = dp;
                planes[2 * n + i] = di * dp;
                planes[3 * n + i] = di * di;
            }
    });
    // 2. box sums -> a, b
    box_planes(planes.data(), 4, h, w, radius);
    std::vector<double> ab(2 * n);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x);
            const double cnt = static_cast<double>(px::box_count(y, h, radius)) *
                               static_cast<double>(px::box_count(x, w, radius));
            px::guided_ab(planes[i], planes[n + i], planes[2 * n + i], planes[3 * n + i], cnt,
                          static_cast<double>(eps), ab[i], ab[n + i]);
        }
    // 3. box means of a, b
    box_planes(ab.data(), 2, h, w, radius);
    std::vector<float> ma(n), mb(n);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x);
            const double cnt = static_cast<double>(px::box_count(y, h, radius)) *
                               static_cast<double>(px::box_count(x, w, radius));
            ma[i] = static_cast<float>(ab[i] / cnt);
            mb[i] = static_cast<float>(ab[n + i] / cnt);
        }
    // 4. full resolution
    std::vector<int> xs0(static_cast<std::size_t>(W)), xs1(static_cast<std::size_t>(W));
    std::vector<float> fxs(static_cast<std::size_t>(W));
    for (int x = 0; x < W; ++x) {
        const std::size_t k = static_cast<std::size_t>(x);
        px::resize_coord(x, w, W, xs0[k], xs1[k], fxs[k]);
    }
    parallel_for(H, 8, [&](std::int64_t b, std::int64_t e) {
        // lerp2's horizontal step of rows y0 and y1 of A and B, cached while y0 stays.
        std::vector<float> ta(static_cast<std::size_t>(W)), ba(static_cast<std::size_t>(W));
        std::vector<float> tb(static_cast<std::size_t>(W)), bb(static_cast<std::size_t>(W));
        int cached = -1;
        auto hrow = [&](int yy, float* ra, float* rb) {
            const float* a = ma.data() + static_cast<std::size_t>(yy) * static_cast<std::size_t>(w);
            const float* bm = mb.data() + static_cast<std::size_t>(yy) * static_cast<std::size_t>(w);
            for (int x = 0; x < W; ++x) {
                const std::size_t k = static_cast<std::size_t>(x);
                ra[x] = px::lerp1(a[xs0[k]], a[xs1[k]], fxs[k]);
                rb[x] = px::lerp1(bm[xs0[k]], bm[xs1[k]], fxs[k]);
            }
        };
        for (std::int64_t y = b; y < e; ++y) {
            int y0, y1;
            float fy;
            px::resize_coord(static_cast<int>(y), h, H, y0, y1, fy);
            if (y0 != cached) {
                hrow(y0, ta.data(), tb.data());
                hrow(y1, ba.data(), bb.data());
                cached = y0;
            }
            const std::uint8_t* row = guide.row(y);
            float* o = out + y * W;
            if (C == 3) {
                for (int x = 0; x < W; ++x) {
                    const std::uint8_t* p = row + 3 * static_cast<std::int64_t>(x);
                    const float I = px::guide_luma(static_cast<float>(p[0]), static_cast<float>(p[1]),
                                                   static_cast<float>(p[2]));
                    o[x] = px::guided_combine(px::lerp1(ta[static_cast<std::size_t>(x)], ba[static_cast<std::size_t>(x)], fy),
                                              px::lerp1(tb[static_cast<std::size_t>(x)], bb[static_cast<std::size_t>(x)], fy), I);
                }
            } else {
                for (int x = 0; x < W; ++x) {
                    const float I = px::pixel_luma(row + x, 1);
                    o[x] = px::guided_combine(px::lerp1(ta[static_cast<std::size_t>(x)], ba[static_cast<std::size_t>(x)], fy),
                                              px::lerp1(tb[static_cast<std::size_t>(x)], bb[static_cast<std::size_t>(x)], fy), I);
                }
            }
        }
    });
}

}  // namespace cpu
}  // namespace facecore
