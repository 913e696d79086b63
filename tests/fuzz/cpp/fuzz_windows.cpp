// libFuzzer target for the windows family: extract_windows_nchw_f32 over any valid grid and
// batch (first, count), accumulate_windows_f32 with both reductions.
#include "fuzz_common.hpp"
#include "windows.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fz::Reader r{data, size};
    const std::int64_t h = r.range(1, 48), w = r.range(1, 48), c = r.range(1, 4), pad = r.range(0, 3);
    const std::int64_t wh = r.range(1, h), ww = r.range(1, w), sy = r.range(1, 9), sx = r.range(1, 9);
    try {
        const auto g = facecore::make_grid(h, w, wh, ww, sy, sx);
        if (r.flag()) {
            fz::Image<std::uint8_t> img(h, w, c, pad);
            r.fill(img.buf.data(), img.buf.size());
            const std::int64_t first = r.range(0, g.count() - 1);
            const std::int64_t count = r.range(0, g.count() - first);
            float mean[4] = {r.real(0, 255), 1, 2, 3}, sd[4] = {r.real(0.01f, 100), 1, 2, 3};
            std::vector<float> out(static_cast<std::size_t>(count * c * wh * ww));
            facecore::cpu::extract_windows_nchw_f32(img.cview(), g, first, count, mean, sd, c >= 3 && r.flag(),
                                                    out.data());
        } else {
            std::vector<float> scores(static_cast<std::size_t>(g.count()));
            for (auto& s : scores) s = r.real(-1.0f, 2.0f);
            std::vector<float> out(static_cast<std::size_t>(h * w));
            facecore::cpu::accumulate_windows_f32(scores.data(), g, static_cast<int>(r.range(0, 1)), r.real(0, 1),
                                                  out.data());
        }
    } catch (const facecore::ArgumentError&) {
    }
    return 0;
}
