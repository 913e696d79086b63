// The uint8 warp's rows for 3- and 4-channel images, compiled for x86-64-v3 (AVX2); CMake adds
// -march=x86-64-v3 to this file only. Elsewhere it exports null pointers and warp.cpp uses its
// baseline loops. Same maths as pixel_ops.hpp's, lane for lane (split_coord, lerp2 in float32
// without FMA, rounding to nearest even, (v - mean) / std), so both builds give the same bits.
#include <cstdint>
#include <cstring>

#include "pixel_ops.hpp"
#include "warp_block.hpp"

#if defined(FACECORE_HAVE_AVX2_TU)
#include <immintrin.h>
#endif

namespace facecore {
namespace cpu {

#if defined(FACECORE_HAVE_AVX2_TU)
namespace {

// Bytes read from the top-left tap of a pixel in each of its two source rows: one unaligned
// 16-byte load holds both horizontal taps (2 x C bytes) and some bytes after them.
constexpr int kTapRead = 16;

// px::split_coord on 8 lanes: integer part and fraction, with the same clamp, NaN rule and
// "fraction rounds to 1" carry.
inline void split8(__m256 s, __m256i& whole_i, __m256& frac) {
    const __m256 lo = _mm256_set1_ps(-1.0e6f), hi = _mm256_set1_ps(1.0e6f);
    // s > -1e6 ? (s < 1e6 ? s : 1e6) : -1e6; min_ps returns its second operand unless s < 1e6
    // (NaN included), and the compare is false for NaN, which then takes -1e6.
    const __m256 c = _mm256_blendv_ps(lo, _mm256_min_ps(s, hi), _mm256_cmp_ps(s, lo, _CMP_GT_OQ));
    __m256 whole = _mm256_round_ps(c, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(c, whole);
    const __m256 one = _mm256_cmp_ps(f, _mm256_set1_ps(1.0f), _CMP_GE_OQ);
    whole = _mm256_add_ps(whole, _mm256_and_ps(one, _mm256_set1_ps(1.0f)));
    frac = _mm256_andnot_ps(one, f);
    whole_i = _mm256_cvttps_epi32(whole);
}

// Bytes 0..3 (shift 0) or C..C+3 of each 128-bit lane, zero-extended to 32-bit lanes, as float.
inline __m256 taps4(__m256i rows, __m256i pick) {
    return _mm256_cvtepi32_ps(_mm256_shuffle_epi8(rows, pick));
}

inline __m256i pick_mask(int first) {
    const char z = -1;
    const char a = static_cast<char>(first), b = static_cast<char>(first + 1),
               c = static_cast<char>(first + 2), d = static_cast<char>(first + 3);
    return _mm256_setr_epi8(a, z, z, z, b, z, z, z, c, z, z, z, d, z, z, z, a, z, z, z, b, z, z, z,
                            c, z, z, z, d, z, z, z);
}

// The 16 bytes at p (pixel j, low lane) and q (pixel j + 4, high lane).
inline __m256i rows2(const std::uint8_t* p, const std::uint8_t* q) {
    return _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), 1);
}

// The weight of pixels j and j + 4 spread over their lanes.
inline __m256 spread(__m256 f, int j) {
    return _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(j, j, j, j, j + 4, j + 4, j + 4, j + 4));
}

// px::lerp2 then rint for pixels j and j + 4, one channel a lane: v[j] = pixel j's C values
// (and junk) low, j + 4's high. at(k, r): the first byte of pixel k's taps in row r (0: top).
template <int C, typename At>
inline void interpolate8(const At& at, __m256 FX, __m256 FY, __m256 v[4]) {
    const __m256i p0 = pick_mask(0), p1 = pick_mask(C);
    for (int j = 0; j < 4; ++j) {
        const __m256i t = rows2(at(j, 0), at(j + 4, 0)), b = rows2(at(j, 1), at(j + 4, 1));
        const __m256 v00 = taps4(t, p0), v01 = taps4(t, p1);
        const __m256 v10 = taps4(b, p0), v11 = taps4(b, p1);
        const __m256 fx = spread(FX, j), fy = spread(FY, j);
        const __m256 top = _mm256_add_ps(v00, _mm256_mul_ps(fx, _mm256_sub_ps(v01, v00)));
        const __m256 bot = _mm256_add_ps(v10, _mm256_mul_ps(fx, _mm256_sub_ps(v11, v10)));
        const __m256 r = _mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bot, top)));
        // px::saturate_u8: rint (in 0..255 already: taps and fill are uint8)
        v[j] = _mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
}

template <int C>
void warp_row(const WarpRowArgs& A) {
    static_assert(C == 3 || C == 4, "3 or 4 channels");
    const int W = static_cast<int>(A.width), H = static_cast<int>(A.height);
    const int rs = static_cast<int>(A.row_stride);  // warp.cpp: the image spans < 2^31 bytes
    const std::uint8_t* const src = A.src;
    const std::uint8_t* const src_b = src + rs;
    const px::Affine m = *A.map;
    const float yf = static_cast<float>(A.y);
    const float row_x = m.a01 * yf + m.a02, row_y = m.a11 * yf + m.a12;
    const __m256 A00 = _mm256_set1_ps(m.a00), A10 = _mm256_set1_ps(m.a10);
    const __m256 RX = _mm256_set1_ps(row_x), RY = _mm256_set1_ps(row_y);
    // A pixel is fast when both taps rows hold it and its two 16-byte reads stay inside the
    // image's bytes: offset of the top-left tap <= last_fast.
    const int span = (H - 1) * rs + W * C;
    const __m256i Wm1 = _mm256_set1_epi32(W - 1), Hm1 = _mm256_set1_epi32(H - 1);
    const __m256i RS = _mm256_set1_epi32(rs), CC = _mm256_set1_epi32(C);
    const __m256i last_fast = _mm256_set1_epi32(span - rs - kTapRead);
    const __m256i neg1 = _mm256_set1_epi32(-1);
    // The source lines of destination row y + kPrefetchRows are requested while row y is
    // computed: a rotated crop's row meets a new line at nearly every pixel, in an order the
    // hardware prefetcher does not guess, and these misses dominated the kernel's time.
    const bool prefetch = H >= 2;  // (two rows to clamp into)
    const float yp = static_cast<float>(A.y + kPrefetchRows);
    const __m256 PRX = _mm256_set1_ps(m.a01 * yp + m.a02), PRY = _mm256_set1_ps(m.a11 * yp + m.a12);
    const __m256i Wm2 = _mm256_set1_epi32(W > 1 ? W - 2 : 0),
                  Hm2 = _mm256_set1_epi32(H > 1 ? H - 2 : 0);
    // Taps of pixels outside the fast path, laid out as in the image: 2 rows of kTapRead bytes.
    alignas(16) std::uint8_t slow[8][2][kTapRead];
    alignas(32) std::int32_t offs[8], ixs[8], iys[8], pf[8];
    alignas(32) float tmp_planes[4][8];
    alignas(16) std::uint8_t tmp_u8[8 * 4 + 16];
    const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    // Loop invariants in locals: the stores below could alias A's fields.
    const Border border = A.border;
    float fill[4] = {0, 0, 0, 0};
    for (int c = 0; c < C; ++c) fill[c] = A.fill[c];
    const std::int64_t x_end = A.out_w;
    std::uint8_t* const row_u8 = A.row_u8;
    __m256 mean[4], scale[4];
    float* planes[4] = {nullptr, nullptr, nullptr, nullptr};
    int channel[4] = {0, 1, 2, 3};
    const bool multiply = A.inv_std != nullptr;
    if (row_u8 == nullptr) {
        for (int c = 0; c < C; ++c) {
            mean[c] = _mm256_set1_ps(A.mean[c]);
            scale[c] = _mm256_set1_ps(multiply ? A.inv_std[c] : A.std[c]);
            planes[c] = A.planes[c];
            channel[c] = A.source_channel[c];
        }
    }
    for (std::int64_t x0 = 0; x0 < x_end; x0 += 8) {
        const __m256 xf = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x0)), iota);
        if (prefetch) {  // truncated coordinates, clamped inside: a prefetch needs no exact tap
            __m256i px_ = _mm256_cvttps_epi32(_mm256_min_ps(
                _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(A00, xf), PRX), _mm256_set1_ps(0.f)),
                _mm256_set1_ps(32767.f)));
            __m256i py_ = _mm256_cvttps_epi32(_mm256_min_ps(
                _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(A10, xf), PRY), _mm256_set1_ps(0.f)),
                _mm256_set1_ps(32767.f)));
            px_ = _mm256_min_epi32(px_, Wm2);
            py_ = _mm256_min_epi32(py_, Hm2);
            _mm256_store_si256(
                reinterpret_cast<__m256i*>(pf),
                _mm256_add_epi32(_mm256_mullo_epi32(py_, RS), _mm256_mullo_epi32(px_, CC)));
            for (int k = 0; k < 8; ++k) {
                __builtin_prefetch(src + pf[k]);
                __builtin_prefetch(src_b + pf[k]);
            }
        }
        __m256i IX, IY;
        __m256 FX, FY;
        // Source coordinates as px::sample_pos: a00 * x + (a01 * y + a02), no FMA.
        split8(_mm256_add_ps(_mm256_mul_ps(A00, xf), RX), IX, FX);
        split8(_mm256_add_ps(_mm256_mul_ps(A10, xf), RY), IY, FY);
        // 0 <= ix < W - 1 and 0 <= iy < H - 1: both taps' columns and rows inside.
        const __m256i in_xy = _mm256_and_si256(
            _mm256_and_si256(_mm256_cmpgt_epi32(IX, neg1), _mm256_cmpgt_epi32(Wm1, IX)),
            _mm256_and_si256(_mm256_cmpgt_epi32(IY, neg1), _mm256_cmpgt_epi32(Hm1, IY)));
        // (wrapped products of pixels far outside are masked off)
        const __m256i off = _mm256_and_si256(
            in_xy, _mm256_add_epi32(_mm256_mullo_epi32(IY, RS), _mm256_mullo_epi32(IX, CC)));
        const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(off, last_fast), in_xy);
        _mm256_store_si256(reinterpret_cast<__m256i*>(offs), off);
        const int cnt = x_end - x0 < 8 ? static_cast<int>(x_end - x0) : 8;
        __m256 v[4];
        const unsigned fast = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(in)));
        if (fast == 0xFFu) {  // all 8 inside: the taps straight from the image
            interpolate8<C>([&](int k, int r) { return (r == 0 ? src : src_b) + offs[k]; }, FX, FY,
                            v);
        } else {  // through `slow` for the others
            _mm256_store_si256(reinterpret_cast<__m256i*>(ixs), IX);
            _mm256_store_si256(reinterpret_cast<__m256i*>(iys), IY);
            const std::uint8_t* taps[8][2];
            for (int k = 0; k < 8; ++k) {
                if (fast & (1u << k)) {
                    taps[k][0] = src + offs[k];
                    taps[k][1] = src_b + offs[k];
                    continue;
                }
                px::SamplePos p;
                p.x = ixs[k];
                p.y = iys[k];
                long long o[4];
                px::neighbour_offsets(p, H, W, A.row_stride, C, border, o);
                std::memset(slow[k], 0, sizeof(slow[k]));
                for (int j = 0; j < 4; ++j)
                    for (int c = 0; c < C; ++c)
                        slow[k][j >> 1][(j & 1) * C + c] =
                            o[j] >= 0 ? src[o[j] + c] : static_cast<std::uint8_t>(fill[c]);
                taps[k][0] = slow[k][0];
                taps[k][1] = slow[k][1];
            }
            interpolate8<C>([&](int k, int r) { return taps[k][r]; }, FX, FY, v);
        }
        if (row_u8 != nullptr) {
            const __m256i i01 =
                _mm256_packus_epi32(_mm256_cvtps_epi32(v[0]), _mm256_cvtps_epi32(v[1]));
            const __m256i i23 =
                _mm256_packus_epi32(_mm256_cvtps_epi32(v[2]), _mm256_cvtps_epi32(v[3]));
            __m256i bytes = _mm256_packus_epi16(i01, i23);  // per lane: 4 pixels x 4 bytes
            if (C == 3)
                bytes = _mm256_shuffle_epi8(
                    bytes,
                    _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1,
                                     2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
            std::uint8_t* o = row_u8 + x0 * C;
            std::uint8_t* dst = cnt == 8 ? o : tmp_u8;
            const __m128i lo = _mm256_castsi256_si128(bytes);
            const __m128i hi = _mm256_extracti128_si256(bytes, 1);
            if (C == 4) {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), lo);
                _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), hi);
            } else {  // 12 bytes a lane: never a byte past the group
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), lo);
                const int lo_tail = _mm_extract_epi32(lo, 2), hi_tail = _mm_extract_epi32(hi, 2);
                std::memcpy(dst + 8, &lo_tail, 4);
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 12), hi);
                std::memcpy(dst + 20, &hi_tail, 4);
            }
            if (cnt < 8) std::memcpy(o, tmp_u8, static_cast<std::size_t>(cnt * C));
        } else {
            // 4x4 transposes within each lane: lane 0 gives pixels 0..3 of each channel,
            // lane 1 pixels 4..7.
            const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]);
            const __m256 t1 = _mm256_unpackhi_ps(v[0], v[1]);
            const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]);
            const __m256 t3 = _mm256_unpackhi_ps(v[2], v[3]);
            __m256 ch[4];
            ch[0] =
                _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
            ch[1] =
                _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
            ch[2] =
                _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
            ch[3] =
                _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
            for (int c = 0; c < C; ++c) {
                // (v - mean) / std, or a multiply by 1 / std where warp.cpp found that it
                // gives the division's bits for all 256 values.
                const __m256 d = _mm256_sub_ps(ch[channel[c]], mean[c]);
                const __m256 r = multiply ? _mm256_mul_ps(d, scale[c]) : _mm256_div_ps(d, scale[c]);
                float* o = planes[c] + x0;
                if (cnt == 8) {
                    _mm256_storeu_ps(o, r);
                } else {
                    _mm256_store_ps(tmp_planes[c], r);
                    std::memcpy(o, tmp_planes[c], static_cast<std::size_t>(cnt) * 4);
                }
            }
        }
    }
}

}  // namespace

namespace avx2 {
const WarpRowFn warp_row3 = &warp_row<3>;
const WarpRowFn warp_row4 = &warp_row<4>;
}  // namespace avx2
#else
namespace avx2 {
const WarpRowFn warp_row3 = nullptr;
const WarpRowFn warp_row4 = nullptr;
}  // namespace avx2
#endif

}  // namespace cpu
}  // namespace facecore
