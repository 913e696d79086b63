// Per-pixel maths shared by the C++ (src/cpp) and CUDA (src/cuda) kernels: both compile this
// header, so both give the same result by construction. Plain arithmetic only: no exceptions,
// no allocation, no std:: calls that CUDA lacks. Both builds turn off fused multiply-add.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace facecore {
namespace px {

// ------------------------------------------------------------------------------------- warp
// Bilinear sampling as OpenCV >= 4.11 / 5.x does it (its rewritten warpAffine): the inverse
// matrix in float32, source coordinates in float32, horizontal then vertical interpolation
// `a + f * (b - a)` in float32, uint8 results rounded to nearest (ties to even). Following
// it makes cv2.warpAffine a valid reference.

// Inverse map dst -> src: src = A * [x, y, 1].
struct Affine {
    float a00, a01, a02, a10, a11, a12;
};

struct SamplePos {
    int x, y;      // top-left neighbour (clamped far outside the image: no int overflow)
    float fx, fy;  // fractions in [0, 1)
};

// Integer part and fraction of a source coordinate, branch-free (the CPU loop vectorises).
// Clamped far outside any image (sides < 32768), so the int cannot overflow; there every
// neighbour is the border value, or one edge pixel, and the fraction no longer matters.
// A tiny negative coordinate (-1e-37) floors to -1 with a fraction that rounds to 1.0f:
// that is the next pixel with weight 1, as OpenCV samples it.
FACECORE_HD void split_coord(float s, int& i, float& f) {
    const float c = s > -1.0e6f ? (s < 1.0e6f ? s : 1.0e6f) : -1.0e6f;  // NaN -> -1e6
    float whole = floorf(c);
    float frac = c - whole;
    const bool one = frac >= 1.0f;
    whole = one ? whole + 1.0f : whole;
    frac = one ? 0.0f : frac;
    i = static_cast<int>(whole);
    f = frac;
}

FACECORE_HD SamplePos sample_pos(const Affine& m, int x, int y) {
    const float fx_ = static_cast<float>(x), fy_ = static_cast<float>(y);
    SamplePos p;
    split_coord(m.a00 * fx_ + (m.a01 * fy_ + m.a02), p.x, p.fx);
    split_coord(m.a10 * fx_ + (m.a11 * fy_ + m.a12), p.y, p.fy);
    return p;
}

FACECORE_HD int clamp_index(int v, int n) {
    return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

// The 4 neighbours' offsets into the image (-1: outside, the border value is used), in the
// order top-left, top-right, bottom-left, bottom-right.
FACECORE_HD void neighbour_offsets(const SamplePos& p, long long height, long long width,
                                   long long row_stride, int channels, Border border,
                                   long long off[4]) {
    const int xs[2] = {p.x, p.x + 1};
    const int ys[2] = {p.y, p.y + 1};
    for (int j = 0; j < 2; ++j) {
        for (int i = 0; i < 2; ++i) {
            int x = xs[i], y = ys[j];
            if (border == Border::Replicate) {
                x = clamp_index(x, static_cast<int>(width));
                y = clamp_index(y, static_cast<int>(height));
            } else if (x < 0 || y < 0 || x >= width || y >= height) {
                off[j * 2 + i] = -1;
                continue;
            }
            off[j * 2 + i] = y * row_stride + static_cast<long long>(x) * channels;
        }
    }
}

// Horizontal, then vertical: the order and rounding OpenCV uses.
FACECORE_HD float lerp2(float v00, float v01, float v10, float v11, float fx, float fy) {
    const float top = v00 + fx * (v01 - v00);
    const float bottom = v10 + fx * (v11 - v10);
    return top + fy * (bottom - top);
}

template <typename T>
FACECORE_HD float bilinear(const T* src, const long long off[4], float fx, float fy, int c,
                           float fill) {
    const float v00 = off[0] >= 0 ? static_cast<float>(src[off[0] + c]) : fill;
    const float v01 = off[1] >= 0 ? static_cast<float>(src[off[1] + c]) : fill;
    const float v10 = off[2] >= 0 ? static_cast<float>(src[off[2] + c]) : fill;
    const float v11 = off[3] >= 0 ? static_cast<float>(src[off[3] + c]) : fill;
    return lerp2(v00, v01, v10, v11, fx, fy);
}

// Round to nearest, ties to even (cvRound), saturated to 0..255.
FACECORE_HD std::uint8_t saturate_u8(float v) {
    const float r = rintf(v);
    return static_cast<std::uint8_t>(r <= 0.0f ? 0 : (r >= 255.0f ? 255 : static_cast<int>(r)));
}

// ----------------------------------------------------------------------------------- refine
FACECORE_HD float clamp01(float v) {
    return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
}  // NaN -> 0

// p -> 1 - (1 - p)^power, p clamped to [0, 1] first. Integer powers multiply (exact, fast).
FACECORE_HD float sharpen(float p, float power, int int_power) {
    const float q = 1.0f - clamp01(p);
    float r;
    if (int_power > 0) {
        r = q;
        for (int i = 1; i < int_power; ++i) r = r * q;
    } else {
        r = powf(q, power);
    }
    return 1.0f - r;
}

// ----------------------------------------------------------------------------------- guided
// The guide's intensity: BT.601 luma of a BGR pixel scaled to [0, 1] (cv2.COLOR_BGR2GRAY's
// weights, in float32, unrounded).
FACECORE_HD float guide_luma(float b, float g, float r) {
    return (0.114f * b + 0.587f * g + 0.299f * r) * (1.0f / 255.0f);
}

// Source coordinate of destination index `d` when resizing n_src -> n_dst samples, as
// cv2.resize INTER_LINEAR: s = (d + 0.5) * n_src / n_dst - 0.5, clamped to [0, n_src - 1];
// returns the left index and the weight of the right one.
FACECORE_HD void resize_coord(int d, int n_src, int n_dst, int& i0, int& i1, float& f) {
    float s =
        (static_cast<float>(d) + 0.5f) * (static_cast<float>(n_src) / static_cast<float>(n_dst)) -
        0.5f;
    s = s < 0.0f ? 0.0f : s;
    int i = static_cast<int>(s);
    if (i >= n_src - 1) {
        i0 = i1 = n_src - 1;
        f = 0.0f;
        return;
    }
    i0 = i;
    i1 = i + 1;
    f = s - static_cast<float>(i);
}

// A guide pixel's intensity in [0, 1]: the luma of BGR, or the grey value.
FACECORE_HD float pixel_luma(const std::uint8_t* p, int C) {
    return C >= 3 ? guide_luma(static_cast<float>(p[0]), static_cast<float>(p[1]),
                               static_cast<float>(p[2]))
                  : static_cast<float>(p[0]) * (1.0f / 255.0f);
}

// Footprint of low-resolution index i (of n) on a full-resolution line of N: [i*N/n, (i+1)*N/n).
FACECORE_HD void footprint(int i, int n, int N, long long& lo, long long& hi) {
    lo = static_cast<long long>(i) * N / n;
    hi = static_cast<long long>(i + 1) * N / n;
}

// Mean luma of the guide over low-resolution pixel (y, x)'s footprint (rows y*H/h ..
// (y+1)*H/h - 1, columns likewise; h <= H, w <= W): each column of the footprint summed in
// double top to bottom, then the column sums left to right (the CPU kernel computes the same
// column sums once per low row for all x).
FACECORE_HD float area_luma(const std::uint8_t* img, long long row_stride, int C, int H, int W,
                            int h, int w, int y, int x) {
    long long y0, y1, x0, x1;
    footprint(y, h, H, y0, y1);
    footprint(x, w, W, x0, x1);
    double acc = 0.0;
    for (long long xx = x0; xx < x1; ++xx) {
        double col = 0.0;
        for (long long yy = y0; yy < y1; ++yy)
            col += static_cast<double>(pixel_luma(img + yy * row_stride + xx * C, C));
        acc += col;
    }
    return static_cast<float>(acc / static_cast<double>((y1 - y0) * (x1 - x0)));
}

// Box sums along one line of n samples (stride apart): out[i] = sum of in[j] for
// |j - i| <= r, 0 <= j < n (the window clipped at the ends), as a running sum: O(1) per sample.
FACECORE_HD void box_line(const double* in, long long stride, int n, int r, double* out) {
    double s = 0.0;
    const int first = r < n - 1 ? r : n - 1;
    for (int j = 0; j <= first; ++j) s += in[j * stride];
    out[0] = s;
    for (int i = 1; i < n; ++i) {
        if (i + r < n) s += in[(i + r) * stride];
        if (i - r - 1 >= 0) s -= in[(i - r - 1) * stride];
        out[i * stride] = s;
    }
}

// Samples of a clipped window of radius r centred at i on a line of n.
FACECORE_HD int box_count(int i, int n, int r) {
    const int lo = i - r < 0 ? 0 : i - r, hi = i + r > n - 1 ? n - 1 : i + r;
    return hi - lo + 1;
}

// The guided filter's linear coefficients of one low-resolution pixel from the box sums of
// I, p, I*p and I*I over its window of n samples (He et al. 2013, eqs. 5-6).
FACECORE_HD void guided_ab(double s_i, double s_p, double s_ip, double s_ii, double n, double eps,
                           double& a, double& b) {
    const double mi = s_i / n, mp = s_p / n;
    const double cov = s_ip / n - mi * mp, var = s_ii / n - mi * mi;
    a = cov / (var + eps);
    b = mp - a * mi;
}

// The guided filter's output at one full-resolution pixel: q = A * I + B, clamped to [0, 1],
// A and B bilinearly upsampled from the low-resolution coefficient maps (lerp2's order:
// horizontal, then vertical; the CPU kernel caches the horizontal step per low row).
FACECORE_HD float lerp1(float a, float b, float f) {
    return a + f * (b - a);
}
FACECORE_HD float guided_combine(float A, float B, float luma) {
    return clamp01(A * luma + B);
}
FACECORE_HD float guided_px(const float* a, const float* b, int w, int y0, int y1, float fy, int x0,
                            int x1, float fx, float luma) {
    const float A = lerp1(lerp1(a[y0 * w + x0], a[y0 * w + x1], fx),
                          lerp1(a[y1 * w + x0], a[y1 * w + x1], fx), fy);
    const float B = lerp1(lerp1(b[y0 * w + x0], b[y0 * w + x1], fx),
                          lerp1(b[y1 * w + x0], b[y1 * w + x1], fx), fy);
    return guided_combine(A, B, luma);
}

// ------------------------------------------------------------------------------------ blend
// out = (1 - a) * base + a * effect, a clamped to [0, 1], rounded half up.
FACECORE_HD std::uint8_t blend_u8(std::uint8_t base, float effect, float a) {
    const float v = (1.0f - a) * static_cast<float>(base) + a * effect;
    const float r = v + 0.5f;
    return static_cast<std::uint8_t>(r <= 0.0f ? 0 : (r >= 255.0f ? 255 : static_cast<int>(r)));
}

// ------------------------------------------------------------------------ colour conversion
// OpenCV's float definitions (cv2.cvtColor on float32 images in [0, 1]: sRGB, D65; HSV with
// H in degrees), so cv2.cvtColor is a reference. Written branch-free (selects, no tables but
// the 256-entry sRGB decode) so the CPU loops vectorise and the GPU warps do not diverge.
// The cube root and the sRGB encode's x^(1/2.4) are a power of two from the exponent bits
// times a polynomial in the mantissa (float accuracy, no division or square root).

FACECORE_HD float select(bool c, float a, float b) {
    return c ? a : b;
}

FACECORE_HD std::int32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_int(x);
#else
    return __builtin_bit_cast(std::int32_t, x);
#endif
}

FACECORE_HD float bits_float(std::int32_t i) {
#if defined(__CUDA_ARCH__)
    return __int_as_float(i);
#else
    return __builtin_bit_cast(float, i);
#endif
}

// x = 2^e * m, m in [1, 2): m^p for p = 1/3 (cube root) or 5/12 (the sRGB encode) by a degree-6
// polynomial in t = m - 1.5, fitted for least maximum relative error with p(m = 1) = 1 exactly
// (so cbrt(1) = 1 and a clipped channel encodes as before); float32 Horner, no FMA: see
// docs/benchmarks.md for the error over every float (scripts/colour_maths_error.cpp). No
// division, no square root: a vector of them is a few cycles where the old Halley steps
// waited on the divider.
FACECORE_HD float mantissa(std::int32_t bits) {
    return bits_float((bits & 0x007fffff) | 0x3f800000);
}

constexpr float kCbrtC0 = 1.14471436f, kCbrtC1 = 0.254383624f, kCbrtC2 = -0.056538146f,
                kCbrtC3 = 0.0208535176f, kCbrtC4 = -0.00917574484f, kCbrtC5 = 0.00518079009f,
                kCbrtC6 = -0.00293880841f;
constexpr float kCbrt2 = 1.25992107f, kCbrt4 = 1.58740103f;  // 2^(1/3), 2^(2/3)

FACECORE_HD float cbrt_mantissa(float t) {
    return kCbrtC0 +
           t * (kCbrtC1 +
                t * (kCbrtC2 + t * (kCbrtC3 + t * (kCbrtC4 + t * (kCbrtC5 + t * kCbrtC6)))));
}

constexpr float kPow512C0 = 1.18405366f, kPow512C1 = 0.328906387f, kPow512C2 = -0.0639627278f,
                kPow512C3 = 0.022420831f, kPow512C4 = -0.00955827162f, kPow512C5 = 0.00524815731f,
                kPow512C6 = -0.00293202442f;

FACECORE_HD float pow512_mantissa(float t) {
    return kPow512C0 +
           t * (kPow512C1 +
                t * (kPow512C2 +
                     t * (kPow512C3 + t * (kPow512C4 + t * (kPow512C5 + t * kPow512C6)))));
}

// Cube root of x in [1e-7, 8] (callers clamp): 2^(e/3) = 2^q * 2^(r/3), e + 24 = 3 q' + r,
// the power of two built from its bits, 2^(r/3) one of three constants.
FACECORE_HD float cbrt_pos(float x) {
    const std::int32_t bits = float_bits(x);
    const std::int32_t i = (bits >> 23) - 103;  // e + 24, in 0..27
    const std::int32_t q = (i * 11) >> 5;       // i / 3 for 0 <= i < 32
    const std::int32_t r = i - 3 * q;
    const float s = select(r == 0, 1.0f, select(r == 1, kCbrt2, kCbrt4));
    const float two_q = bits_float((q + 119) << 23);  // 2^(q - 8)
    return cbrt_mantissa(mantissa(bits) - 1.5f) * s * two_q;
}

// 2^(5 e / 12) for e = E - 9, E = 0..9, rounded to float.
constexpr float kPow512Exp0 = 0.0743254423f, kPow512Exp1 = 0.0992125645f,
                kPow512Exp2 = 0.132432893f, kPow512Exp3 = 0.176776692f, kPow512Exp4 = 0.235968575f,
                kPow512Exp5 = 0.314980268f, kPow512Exp6 = 0.420448214f, kPow512Exp7 = 0.561231017f,
                kPow512Exp8 = 0.749153554f, kPow512Exp9 = 1.0f;

// A select tree over the ten constants: vectorises on the CPU and does not diverge on the GPU.
FACECORE_HD float pow512_scale(std::int32_t E) {
    const bool b0 = (E & 1) != 0, b1 = (E & 2) != 0, b2 = (E & 4) != 0;
    const float s01 = select(b0, kPow512Exp1, kPow512Exp0);
    const float s23 = select(b0, kPow512Exp3, kPow512Exp2);
    const float s45 = select(b0, kPow512Exp5, kPow512Exp4);
    const float s67 = select(b0, kPow512Exp7, kPow512Exp6);
    const float s89 = select(b0, kPow512Exp9, kPow512Exp8);
    const float s03 = select(b1, s23, s01), s47 = select(b1, s67, s45);
    return select(E >= 8, s89, select(b2, s47, s03));
}

// x^(5/12) for x in [2^-9, 1] (callers clamp).
FACECORE_HD float pow512(float x) {
    const std::int32_t bits = float_bits(x);
    return pow512_mantissa(mantissa(bits) - 1.5f) * pow512_scale((bits >> 23) - 118);
}

// min(max(v, lo), hi) written as the x86 min/max instructions read it, so the vector loops
// use them. The colour maths only sees finite values (a NaN would give lo).
FACECORE_HD float max_f(float a, float b) {
    return a > b ? a : b;
}
FACECORE_HD float min_f(float a, float b) {
    return a < b ? a : b;
}
FACECORE_HD float clamp_range(float v, float lo, float hi) {
    return min_f(max_f(v, lo), hi);
}

// sRGB uint8 -> linear, filled on the host (powf) and shared with the device.
struct ColourTables {
    float to_linear[256];
};

FACECORE_HD float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

inline void fill_colour_tables(ColourTables& t) {
    for (int i = 0; i < 256; ++i) t.to_linear[i] = srgb_to_linear(static_cast<float>(i) / 255.0f);
}

// Linear in [0, 1] (clipped) -> sRGB in [0, 1].
FACECORE_HD float linear_to_srgb(float c) {
    c = clamp_range(c, 0.0f, 1.0f);
    const float curve = 1.055f * pow512(max_f(c, 0.001953125f)) - 0.055f;
    return select(c <= 0.0031308f, 12.92f * c, curve);
}

constexpr float kXn = 0.950456f, kZn = 1.088754f;
constexpr float kLabThresh = 0.008856f;
// Constant divisions as multiplications by reciprocals (within 1 ulp; the float64 textbook
// reference in tests/reference.py is the judge, not bit-equality with OpenCV).
constexpr float kInvXn = 1.0f / 0.950456f, kInvZn = 1.0f / 1.088754f;
constexpr float kInv903 = 1.0f / 903.3f, kInv116 = 1.0f / 116.0f, kInv7787 = 1.0f / 7.787f;
constexpr float kInv500 = 1.0f / 500.0f, kInv200 = 1.0f / 200.0f;

FACECORE_HD float lab_f(float v) {
    return select(v > kLabThresh, cbrt_pos(clamp_range(v, 1e-7f, 8.0f)),
                  7.787f * v + 16.0f / 116.0f);
}

FACECORE_HD float lab_f_inv(float f) {
    return select(f > 0.206893f, f * f * f, (f - 16.0f / 116.0f) * kInv7787);
}

// Linear RGB -> Lab (L in [0, 100]).
FACECORE_HD void linear_rgb_to_lab(float r, float g, float b, float& L, float& A, float& B) {
    const float X = (0.412453f * r + 0.357580f * g + 0.180423f * b) * kInvXn;
    const float Y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
    const float Z = (0.019334f * r + 0.119193f * g + 0.950227f * b) * kInvZn;
    const float fx = lab_f(X), fy = lab_f(Y), fz = lab_f(Z);
    L = select(Y > kLabThresh, 116.0f * fy - 16.0f, 903.3f * Y);
    A = 500.0f * (fx - fy);
    B = 200.0f * (fy - fz);
}

// Lab -> linear RGB (unclipped: linear_to_srgb clips).
FACECORE_HD void lab_to_linear(float L, float A, float B, float& r, float& g, float& b) {
    const bool low = L <= 8.0f;  // 903.3 * 0.008856
    const float y_low = L * kInv903;
    const float fy_high = (L + 16.0f) * kInv116;
    const float Y = select(low, y_low, fy_high * fy_high * fy_high);
    const float fy = select(low, 7.787f * y_low + 16.0f / 116.0f, fy_high);
    const float X = lab_f_inv(A * kInv500 + fy) * kXn;
    const float Z = lab_f_inv(fy - B * kInv200) * kZn;
    r = 3.240479f * X - 1.53715f * Y - 0.498535f * Z;
    g = -0.969256f * X + 1.875991f * Y + 0.041556f * Z;
    b = 0.055648f * X - 0.204043f * Y + 1.057311f * Z;
}

// Lab -> sRGB in [0, 1] per channel (clipped to the gamut in linear RGB).
FACECORE_HD void lab_to_srgb(float L, float A, float B, float& r, float& g, float& b) {
    float lr, lg, lb;
    lab_to_linear(L, A, B, lr, lg, lb);
    r = linear_to_srgb(lr);
    g = linear_to_srgb(lg);
    b = linear_to_srgb(lb);
}

// A layer value 0..255 (unrounded) from linear RGB: the last step of every recolour.
FACECORE_HD float linear_to_srgb255(float c) {
    return linear_to_srgb(c) * 255.0f;
}

// L alone (what strength 1 needs: the pixel's a/b are replaced, not moved).
FACECORE_HD float linear_rgb_to_L(float r, float g, float b) {
    const float Y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
    return select(Y > kLabThresh, 116.0f * lab_f(Y) - 16.0f, 903.3f * Y);
}

// Recolour in Lab: keep L (the texture), move a/b toward the target's by `strength`.
// Inputs: the pixel's L, a, b; output: linear R, G, B (unclipped; linear_to_srgb255 then
// gives the layer).
FACECORE_HD void recolor_lab_linear(float L, float A, float B, float target_a, float target_b,
                                    float strength, float& r, float& g, float& b) {
    A = A + strength * (target_a - A);
    B = B + strength * (target_b - B);
    lab_to_linear(L, A, B, r, g, b);
}

// The whole pixel: linear R, G, B in; B, G, R 0..255 (unrounded) out.
FACECORE_HD void recolor_lab_px(float lr, float lg, float lb, float target_a, float target_b,
                                float strength, float& ob, float& og, float& orr) {
    float L, A, B, r, g, b;
    linear_rgb_to_lab(lr, lg, lb, L, A, B);
    recolor_lab_linear(L, A, B, target_a, target_b, strength, r, g, b);
    ob = linear_to_srgb255(b);
    og = linear_to_srgb255(g);
    orr = linear_to_srgb255(r);
}

// strength 1: the pixel's a/b are replaced by the target's, so only L is needed.
FACECORE_HD void recolor_lab_full_px(float lr, float lg, float lb, float target_a, float target_b,
                                     float& ob, float& og, float& orr) {
    float r, g, b;
    lab_to_linear(linear_rgb_to_L(lr, lg, lb), target_a, target_b, r, g, b);
    ob = linear_to_srgb255(b);
    og = linear_to_srgb255(g);
    orr = linear_to_srgb255(r);
}

// ------------------------------------------------------------------------------- Oklab
// B. Ottosson's Oklab (2020), scaled by 100 (L in [0, 100]): built so that hue stays
// constant where CIE Lab's blues turn purple. Linear sRGB in, linear sRGB out.
FACECORE_HD void linear_rgb_to_oklab(float r, float g, float b, float& L, float& A, float& B) {
    const float l = 0.4122214708f * r + 0.5363325363f * g + 0.0514459929f * b;
    const float m = 0.2119034982f * r + 0.6806995451f * g + 0.1073969566f * b;
    const float s = 0.0883024619f * r + 0.2817188376f * g + 0.6299787005f * b;
    const float l_ = cbrt_pos(clamp_range(l, 1e-7f, 8.0f));
    const float m_ = cbrt_pos(clamp_range(m, 1e-7f, 8.0f));
    const float s_ = cbrt_pos(clamp_range(s, 1e-7f, 8.0f));
    L = 100.0f * (0.2104542553f * l_ + 0.7936177850f * m_ - 0.0040720468f * s_);
    A = 100.0f * (1.9779984951f * l_ - 2.4285922050f * m_ + 0.4505937099f * s_);
    B = 100.0f * (0.0259040371f * l_ + 0.7827717662f * m_ - 0.8086757660f * s_);
}

FACECORE_HD float linear_rgb_to_okL(float r, float g, float b) {
    float L, A, B;
    linear_rgb_to_oklab(r, g, b, L, A, B);
    return L;
}

// Oklab (x 100) -> linear RGB (unclipped) and its luminance Y.
FACECORE_HD void oklab_to_linear(float L, float A, float B, float& r, float& g, float& b,
                                 float& Y) {
    const float Lf = L * 0.01f, Af = A * 0.01f, Bf = B * 0.01f;
    const float l_ = Lf + 0.3963377774f * Af + 0.2158037573f * Bf;
    const float m_ = Lf - 0.1055613458f * Af - 0.0638541728f * Bf;
    const float s_ = Lf - 0.0894841775f * Af - 1.2914855480f * Bf;
    const float l = l_ * l_ * l_, m = m_ * m_ * m_, s = s_ * s_ * s_;
    r = 4.0767416621f * l - 3.3077115913f * m + 0.2309699292f * s;
    g = -1.2684380046f * l + 2.6097574011f * m - 0.3413193965f * s;
    b = -0.0041960863f * l - 0.7034186147f * m + 1.7076147010f * s;
    Y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
}

// ------------------------------------------------------------ colour transfer (hair dye)
// "transfer" / "natural", in Oklab (x 100): move the hair's lightness distribution to the
// target's and give it the target's chroma, keeping the texture from the luminance detail:
//   d  = L - mu                                  (the pixel's detail around the hair's mean L)
//   L' = m + k * d                               (m: the new mean, k: contrast kept relative)
//   natural: highlights (d > sd) keep half their own lightness back and lose chroma
//   a', b' = (ta, tb) * clamp(L' / m, 0, 1.25)   (shadows less saturated: hue kept, in gamut)
//   then strength s: L + s (L' - L), a + s (a' - a), b + s (b' - b)
// and the Oklab -> linear RGB result is brought into the gamut by mixing it with the grey of
// the same luminance Y (hue kept, Y exact) instead of clipping channels (which turns an
// out-of-gamut blue violet).
struct Transfer {
    float mu, sd;       // the hair's mean and spread of Oklab L x 100 (alpha-weighted)
    float m, k, inv_m;  // the new mean, the detail gain, 1 / max(m, 1)
    float inv_sd1;      // 1 / (sd + 1): the highlight ramp's scale (no division per pixel)
    float ta, tb;       // the target's Oklab a/b x 100
    float natural;      // 1 natural, 0 transfer
};

// Host (and device) set-up from the hair's statistics and the target's Lab.
FACECORE_HD Transfer make_transfer(float mu, float sd, float tl, float ta, float tb, bool natural) {
    Transfer T;
    T.mu = clamp_range(mu, 0.0f, 100.0f);
    T.sd = clamp_range(sd, 0.5f, 50.0f);
    // natural: the mean lightness moves halfway to the target's; transfer: all the way
    T.m = natural ? T.mu + 0.5f * (tl - T.mu) : tl;
    // relative contrast kept: lightening stretches the detail, darkening compresses it
    T.k = clamp_range((T.m + 10.0f) / (T.mu + 10.0f), 0.4f, 2.5f);
    T.inv_m = 1.0f / (T.m > 1.0f ? T.m : 1.0f);
    T.inv_sd1 = 1.0f / (T.sd + 1.0f);
    T.ta = ta;
    T.tb = tb;
    T.natural = natural ? 1.0f : 0.0f;
    return T;
}

// The largest t in [0, 1] with Y + t (c - Y) in [0, 1] (Y in [0, 1]) is num / den; one
// division per pixel: the smallest of the three ratios is picked by cross-multiplying.
FACECORE_HD void gamut_ratio(float c, float Y, float& num, float& den) {
    const bool hi = c > 1.0f, lo = c < 0.0f;
    num = select(hi, 1.0f - Y, select(lo, Y, 1.0f));
    den = select(hi, c - Y, select(lo, Y - c, 1.0f));
}

// Oklab (x 100) -> linear RGB in [0, 1], brought into the gamut toward the grey of the same
// luminance.
FACECORE_HD void oklab_to_linear_mapped(float L, float A, float B, float& r, float& g, float& b) {
    float lr, lg, lb, Y;
    oklab_to_linear(clamp_range(L, 0.0f, 100.0f), A, B, lr, lg, lb, Y);
    Y = clamp_range(Y, 0.0f, 1.0f);
    float n, d, n2, d2;
    gamut_ratio(lr, Y, n, d);
    gamut_ratio(lg, Y, n2, d2);
    bool less = n2 * d < n * d2;
    n = select(less, n2, n);
    d = select(less, d2, d);
    gamut_ratio(lb, Y, n2, d2);
    less = n2 * d < n * d2;
    n = select(less, n2, n);
    d = select(less, d2, d);
    const float t = clamp_range(n / d, 0.0f, 1.0f);
    r = Y + t * (lr - Y);
    g = Y + t * (lg - Y);
    b = Y + t * (lb - Y);
}

// Oklab (x 100) -> sRGB in [0, 1], gamut-mapped as above.
FACECORE_HD void oklab_to_srgb_mapped(float L, float A, float B, float& r, float& g, float& b) {
    float lr, lg, lb;
    oklab_to_linear_mapped(L, A, B, lr, lg, lb);
    r = linear_to_srgb(lr);
    g = linear_to_srgb(lg);
    b = linear_to_srgb(lb);
}

// One pixel of the transfer: its L (and a/b, used only when strength < 1) -> linear R, G, B
// in [0, 1] (linear_to_srgb255 then gives the layer).
FACECORE_HD void recolor_transfer_linear(float L, float A, float B, const Transfer& T,
                                         float strength, float& r, float& g, float& b) {
    const float d = L - T.mu;
    float Ln = T.m + T.k * d;
    // natural: highlights (more than one spread above the mean) take back half their own
    // lightness where it is higher, and keep less of the target's chroma
    const float h = T.natural * clamp01((d - T.sd) * T.inv_sd1);
    Ln = Ln + h * 0.5f * select(L > Ln, L - Ln, 0.0f);
    Ln = clamp_range(Ln, 0.0f, 100.0f);
    const float c = clamp_range(Ln * T.inv_m, 0.0f, 1.25f) * (1.0f - 0.7f * h);
    const float An = T.ta * c, Bn = T.tb * c;
    const float Lf = L + strength * (Ln - L);
    const float Af = A + strength * (An - A);
    const float Bf = B + strength * (Bn - B);
    oklab_to_linear_mapped(Lf, Af, Bf, r, g, b);
}

// One pixel of the transfer: its L (and a/b, used only when strength < 1) -> B, G, R 0..255.
FACECORE_HD void recolor_transfer_px(float L, float A, float B, const Transfer& T, float strength,
                                     float& ob, float& og, float& orr) {
    float r, g, b;
    recolor_transfer_linear(L, A, B, T, strength, r, g, b);
    ob = linear_to_srgb255(b);
    og = linear_to_srgb255(g);
    orr = linear_to_srgb255(r);
}

// One row of lab_stats: over x = 0, step, 2 step, ...: s[0..2] = sum of w, w L, w L^2 with
// w = alpha where alpha >= 0.5; s[3..5] the same with w = alpha over alpha > 0 (the fallback
// when no pixel is confident). Sums in double, row by row, added up in row order by the host.
FACECORE_HD void lab_stats_row(const std::uint8_t* p, const float* a, long long width,
                               long long step, const float* to_linear, double s[6]) {
    for (int i = 0; i < 6; ++i) s[i] = 0.0;
    for (long long x = 0; x < width; x += step) {
        const float w = clamp01(a[x]);
        if (!(w > 0.0f)) continue;
        const float L = linear_rgb_to_okL(to_linear[p[3 * x + 2]], to_linear[p[3 * x + 1]],
                                          to_linear[p[3 * x]]);
        const double wd = w, Ld = L;
        s[3] += wd;
        s[4] += wd * Ld;
        s[5] += wd * Ld * Ld;
        if (w >= 0.5f) {
            s[0] += wd;
            s[1] += wd * Ld;
            s[2] += wd * Ld * Ld;
        }
    }
}

struct LabStats {
    double weight, mean, std;
};

// Host: the rows' sums added in row order -> weight, mean and spread of L.
inline LabStats lab_stats_total(const double* partial, long long rows) {
    double s[6] = {0, 0, 0, 0, 0, 0};
    for (long long r = 0; r < rows; ++r)
        for (int i = 0; i < 6; ++i) s[i] += partial[6 * r + i];
    const int o = s[0] > 0.0 ? 0 : 3;  // confident pixels, else every pixel with alpha > 0
    LabStats st{s[o], 50.0, 10.0};
    if (s[o] > 0.0) {
        st.mean = s[o + 1] / s[o];
        const double var = s[o + 2] / s[o] - st.mean * st.mean;
        st.std = var > 0.0 ? std::sqrt(var) : 0.0;
    }
    return st;
}

// Host: the transfer's parameters for a target colour (B, G, R 0..255), same on CPU and GPU.
inline Transfer transfer_for(float mu, float sd, const float* target_bgr, bool natural) {
    float tl, ta, tb;
    linear_rgb_to_oklab(srgb_to_linear(target_bgr[2] / 255.0f),
                        srgb_to_linear(target_bgr[1] / 255.0f),
                        srgb_to_linear(target_bgr[0] / 255.0f), tl, ta, tb);
    return make_transfer(mu, sd, tl, ta, tb, natural);
}

// RGB in [0, 1] -> H degrees [0, 360), S, V in [0, 1] (OpenCV's float definition).
FACECORE_HD void rgb_to_hsv(float r, float g, float b, float& h, float& s, float& v) {
    const float mx = select(r > g, select(r > b, r, b), select(g > b, g, b));
    const float mn = select(r < g, select(r < b, r, b), select(g < b, g, b));
    const float diff = mx - mn;
    v = mx;
    s = select(mx > 0.0f, diff / select(mx > 0.0f, mx, 1.0f), 0.0f);
    const float k = 60.0f / select(diff > 0.0f, diff, 1.0f);
    float hh =
        select(mx == r, (g - b) * k, select(mx == g, (b - r) * k + 120.0f, (r - g) * k + 240.0f));
    hh = select(hh < 0.0f, hh + 360.0f, hh);
    h = select(diff > 0.0f, hh, 0.0f);
}

FACECORE_HD void hsv_to_rgb(float h, float s, float v, float& r, float& g, float& b) {
    const float hs = h / 60.0f;
    const float sector_f = floorf(hs);
    const float f = hs - sector_f;
    const float p = v * (1.0f - s);
    const float q = v * (1.0f - s * f);
    const float u = v * (1.0f - s * (1.0f - f));
    // sector 0..5 (6 wraps to 0): r = v,q,p,p,u,v  g = u,v,v,q,p,p  b = p,p,u,v,v,q
    const float k = sector_f - 6.0f * floorf(sector_f / 6.0f);
    r = select(k < 0.5f, v, select(k < 1.5f, q, select(k < 3.5f, p, select(k < 4.5f, u, v))));
    g = select(k < 0.5f, u, select(k < 2.5f, v, select(k < 3.5f, q, p)));
    b = select(k < 1.5f, p, select(k < 2.5f, u, select(k < 4.5f, v, q)));
}

// Recolour in HSV: hue toward the target's along the shorter arc, saturation toward the
// target's, both by `strength`; V (the texture) stays. In: B, G, R 0..255; out: 0..255.
FACECORE_HD void recolor_hsv_px(float pb, float pg, float pr, float target_h, float target_s,
                                float strength, float& ob, float& og, float& orr) {
    float h, s, v;
    rgb_to_hsv(pr / 255.0f, pg / 255.0f, pb / 255.0f, h, s, v);
    float dh = target_h - h;
    dh = select(dh > 180.0f, dh - 360.0f, select(dh < -180.0f, dh + 360.0f, dh));
    h = h + strength * dh;
    h = select(h < 0.0f, h + 360.0f, select(h >= 360.0f, h - 360.0f, h));
    s = s + strength * (target_s - s);
    float r, g, b;
    hsv_to_rgb(h, s, v, r, g, b);
    ob = b * 255.0f;
    og = g * 255.0f;
    orr = r * 255.0f;
}

}  // namespace px
}  // namespace facecore
