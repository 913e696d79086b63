#include "refine.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "isa.hpp"
#include "parallel.hpp"
#include "pixel_ops.hpp"
#include "refine_block.hpp"

namespace facecore {
namespace cpu {
namespace {

#include "refine_block.inc"

// One iteration over rows [y_begin, y_end): a ring of kernel_h sharpened rows, each padded by
// replication to width + kernel_w - 1. A 3x3 kernel (every named one) takes all nine taps in
// one pass per output row (conv3_row); other sizes accumulate tap by tap, in the same order.
void refine_rows(const float* in, std::int64_t H, std::int64_t W, float power, int int_power,
                 const float* kernel, std::int64_t kh, std::int64_t kw, std::int64_t y_begin,
                 std::int64_t y_end, float* out) {
    const std::int64_t rh = kh / 2, rw = kw / 2, padded = W + kw - 1;
    SharpenRowFn sharpen = pick(avx2::sharpen_row, &sharpen_row);
    Conv3RowFn conv3 = pick(avx2::conv3_row, &conv3_row);
    std::vector<float> ring(static_cast<std::size_t>(kh * padded));
    std::vector<float> acc(kh == 3 && kw == 3 ? 0 : static_cast<std::size_t>(W));
    auto slot_of = [&](std::int64_t virtual_row) {
        return ring.data() + ((virtual_row + kh * (H + kh)) % kh) * padded;
    };
    auto fill_slot = [&](std::int64_t virtual_row) {
        const std::int64_t src_row = std::min(std::max<std::int64_t>(virtual_row, 0), H - 1);
        float* slot = slot_of(virtual_row);
        sharpen(in + src_row * W, W, power, int_power, slot + rw);
        for (std::int64_t x = 0; x < rw; ++x) {
            slot[x] = slot[rw];
            slot[rw + W + x] = slot[rw + W - 1];
        }
    };
    for (std::int64_t v = y_begin - rh; v < y_begin + rh; ++v) fill_slot(v);
    for (std::int64_t y = y_begin; y < y_end; ++y) {
        fill_slot(y + rh);
        float* o = out + y * W;
        if (kh == 3 && kw == 3) {
            conv3(slot_of(y - 1), slot_of(y), slot_of(y + 1), kernel, W, o);
            continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (std::int64_t ky = 0; ky < kh; ++ky) {
            const float* row = slot_of(y - rh + ky);
            for (std::int64_t kx = 0; kx < kw; ++kx) {
                const float k = kernel[ky * kw + kx];
                const float* r = row + kx;
                float* a = acc.data();
                for (std::int64_t x = 0; x < W; ++x) a[x] = a[x] + k * r[x];
            }
        }
        for (std::int64_t x = 0; x < W; ++x) o[x] = px::clamp01(acc[static_cast<std::size_t>(x)]);
    }
}

}  // namespace

void refine_map_f32(const float* in, std::int64_t height, std::int64_t width, float power,
                    const float* kernel, std::int64_t kernel_h, std::int64_t kernel_w,
                    int iterations, float* out) {
    const int int_power =
        check_refine_args(height, width, power, kernel, kernel_h, kernel_w, iterations);
    const std::size_t size = static_cast<std::size_t>(height * width);
    if (iterations == 0) {
        if (out != in) std::copy(in, in + size, out);
        return;
    }
    // One iteration reads `in` and writes `out` directly. More ping-pong between `out` and
    // one scratch map (allocated only then); an in-place call reads a copy of its input.
    std::vector<float> scratch(iterations > 1 ? size : 0);
    std::vector<float> input_copy;
    const float* src = in;
    if (in == out) {
        input_copy.assign(in, in + size);
        src = input_copy.data();
    }
    // Write the last iteration to `out`: start in `out` when the count is odd.
    float* dst = (iterations % 2 == 1) ? out : scratch.data();
    for (int it = 0; it < iterations; ++it) {
        parallel_for(height, 16, [&](std::int64_t begin, std::int64_t end) {
            refine_rows(src, height, width, power, int_power, kernel, kernel_h, kernel_w, begin,
                        end, dst);
        });
        src = dst;
        dst = (dst == out) ? scratch.data() : out;
    }
}

}  // namespace cpu
}  // namespace facecore
