#include "guided.hpp"

#include <algorithm>
#include <vector>

#include "parallel.hpp"
#include "pixel_ops.hpp"

namespace facecore {
namespace cpu {
namespace {

// Vertical box sums of one h x w plane: px::box_line down every column, with the same
// additions in the same order, but a whole row at a time (a column walk with a stride of w
// doubles thrashes the cache).
void box_cols(const double* in, int h, int w, int r, double* out) {
    std::vector<double> s(static_cast<std::size_t>(w), 0.0);
    const std::size_t W = static_cast<std::size_t>(w);
    const int first = r < h - 1 ? r : h - 1;
    for (int j = 0; j <= first; ++j)
        for (std::size_t x = 0; x < W; ++x) s[x] += in[static_cast<std::size_t>(j) * W + x];
    std::copy(s.begin(), s.end(), out);
    for (int i = 1; i < h; ++i) {
        if (i + r < h)
            for (std::size_t x = 0; x < W; ++x) s[x] += in[static_cast<std::size_t>(i + r) * W + x];
        if (i - r - 1 >= 0)
            for (std::size_t x = 0; x < W; ++x)
                s[x] -= in[static_cast<std::size_t>(i - r - 1) * W + x];
        std::copy(s.begin(), s.end(), out + static_cast<std::size_t>(i) * W);
    }
}

// Scratch memory kept per calling thread between calls: fresh multi-megabyte buffers are
// fresh pages, and their page faults cost more than the filter (3 ms of 4 at 640x360).
struct Scratch {
    std::vector<double> planes, tmp, ab;
    std::vector<float> ma, mb;
};
Scratch& scratch() {
    static thread_local Scratch s;
    return s;
}

template <typename T>
T* sized(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

// Box sums of `planes` (k planes of h x w doubles, in place), rows then columns. Serial: the
// low-resolution maps are small (256 x 144: ~0.2 ms), and a thread hand-off costs more.
void box_planes(double* planes, int k, int h, int w, int r) {
    double* tmp =
        sized(scratch().tmp, static_cast<std::size_t>(k) * static_cast<std::size_t>(h * w));
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(k) * h; ++i)
        px::box_line(planes + i * w, 1, w, r, tmp + i * w);
    for (int p = 0; p < k; ++p) {
        const std::size_t off = static_cast<std::size_t>(p) * static_cast<std::size_t>(h * w);
        box_cols(tmp + off, h, w, r, planes + off);
    }
}

}  // namespace

void guided_upsample_f32(const ImageView<const std::uint8_t>& guide, const float* alpha,
                         std::int64_t h64, std::int64_t w64, int radius, float eps, float* out) {
    check_guided_args(guide.height, guide.width, guide.channels, h64, w64, radius, eps);
    const int H = static_cast<int>(guide.height), W = static_cast<int>(guide.width);
    const int C = static_cast<int>(guide.channels), h = static_cast<int>(h64),
              w = static_cast<int>(w64);
    const std::size_t n = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
    // 1. the low-resolution guide, and the four planes I, p, I*p, I*I
    double* planes = sized(scratch().planes, 4 * n);
    parallel_for(h, 4, [&](std::int64_t b, std::int64_t e) {
        // px::area_luma's sums, in its order, with each full-resolution column summed once
        std::vector<double> col(static_cast<std::size_t>(W));
        std::vector<float> luma(static_cast<std::size_t>(W));
        for (std::int64_t y = b; y < e; ++y) {
            long long y0, y1;
            px::footprint(static_cast<int>(y), h, H, y0, y1);
            std::fill(col.begin(), col.end(), 0.0);
            for (long long yy = y0; yy < y1; ++yy) {
                const std::uint8_t* row = guide.row(yy);
                if (C == 3) {
                    for (int xx = 0; xx < W; ++xx) {
                        const std::uint8_t* p = row + 3 * static_cast<std::int64_t>(xx);
                        luma[static_cast<std::size_t>(xx)] =
                            px::guide_luma(static_cast<float>(p[0]), static_cast<float>(p[1]),
                                           static_cast<float>(p[2]));
                    }
                } else {
                    for (int xx = 0; xx < W; ++xx)
                        luma[static_cast<std::size_t>(xx)] = px::pixel_luma(row + xx, 1);
                }
                for (std::size_t xx = 0; xx < col.size(); ++xx)
                    col[xx] += static_cast<double>(luma[xx]);
            }
            for (int x = 0; x < w; ++x) {
                long long x0, x1;
                px::footprint(x, w, W, x0, x1);
                double acc = 0.0;
                for (long long xx = x0; xx < x1; ++xx) acc += col[static_cast<std::size_t>(xx)];
                const float I =
                    static_cast<float>(acc / static_cast<double>((y1 - y0) * (x1 - x0)));
                const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) +
                                      static_cast<std::size_t>(x);
                const double di = I, dp = px::clamp01(alpha[i]);
                planes[i] = di;
                planes[n + i] = dp;
                planes[2 * n + i] = di * dp;
                planes[3 * n + i] = di * di;
            }
        }
    });
    // 2. box sums -> a, b
    box_planes(planes, 4, h, w, radius);
    double* ab = sized(scratch().ab, 2 * n);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) +
                                  static_cast<std::size_t>(x);
            const double cnt = static_cast<double>(px::box_count(y, h, radius)) *
                               static_cast<double>(px::box_count(x, w, radius));
            px::guided_ab(planes[i], planes[n + i], planes[2 * n + i], planes[3 * n + i], cnt,
                          static_cast<double>(eps), ab[i], ab[n + i]);
        }
    // 3. box means of a, b
    box_planes(ab, 2, h, w, radius);
    float* ma = sized(scratch().ma, n);
    float* mb = sized(scratch().mb, n);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) +
                                  static_cast<std::size_t>(x);
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
            const float* a = ma + static_cast<std::size_t>(yy) * static_cast<std::size_t>(w);
            const float* bm = mb + static_cast<std::size_t>(yy) * static_cast<std::size_t>(w);
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
                    const float I =
                        px::guide_luma(static_cast<float>(p[0]), static_cast<float>(p[1]),
                                       static_cast<float>(p[2]));
                    o[x] = px::guided_combine(px::lerp1(ta[static_cast<std::size_t>(x)],
                                                        ba[static_cast<std::size_t>(x)], fy),
                                              px::lerp1(tb[static_cast<std::size_t>(x)],
                                                        bb[static_cast<std::size_t>(x)], fy),
                                              I);
                }
            } else {
                for (int x = 0; x < W; ++x) {
                    const float I = px::pixel_luma(row + x, 1);
                    o[x] = px::guided_combine(px::lerp1(ta[static_cast<std::size_t>(x)],
                                                        ba[static_cast<std::size_t>(x)], fy),
                                              px::lerp1(tb[static_cast<std::size_t>(x)],
                                                        bb[static_cast<std::size_t>(x)], fy),
                                              I);
                }
            }
        }
    });
}

}  // namespace cpu
}  // namespace facecore
