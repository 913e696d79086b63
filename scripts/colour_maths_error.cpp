// Exhaustive error of the recolour kernels' float maths (src/cpp/pixel_ops.hpp) against
// long double: the cube root over every float in [1e-7, 8] and the sRGB encode over every
// float in [0, 1]. Build and run (about a minute):
//   g++ -O2 -std=c++17 -ffp-contract=off -Isrc/cpp scripts/colour_maths_error.cpp -o /tmp/cme
//   /tmp/cme
#include <cmath>
#include <cstdio>
#include <cstring>

#include "pixel_ops.hpp"

namespace px = facecore::px;

static float next_up(float x) {
    return std::nextafter(x, 1e30f);
}

int main() {
    // cube root: relative error
    double worst = 0.0;
    float at = 0.0f;
    for (float x = 1e-7f; x <= 8.0f; x = next_up(x)) {
        const long double e =
            std::fabs(px::cbrt_pos(x) / std::cbrt(static_cast<long double>(x)) - 1.0L);
        if (e > worst) worst = static_cast<double>(e), at = x;
    }
    std::printf("cbrt_pos: max relative error %.3g at x = %.9g (every float in [1e-7, 8])\n", worst,
                at);
    // sRGB encode: absolute error in 0..255 levels
    worst = 0.0;
    for (float c = 0.0f; c <= 1.0f; c = next_up(c)) {
        const long double cl = c;
        const long double exact =
            255.0L * (cl <= 0.0031308L ? 12.92L * cl : 1.055L * std::pow(cl, 1.0L / 2.4L) - 0.055L);
        const long double e = std::fabs(px::linear_to_srgb255(c) - exact);
        if (e > worst) worst = static_cast<double>(e), at = c;
    }
    std::printf("linear_to_srgb255: max error %.3g levels at c = %.9g (every float in [0, 1])\n",
                worst, at);
    return 0;
}
