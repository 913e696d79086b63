// libFuzzer target for the refine family: any map size, integer and fractional powers,
// odd kernels up to 31 x 31, 0..3 iterations, in place or not.
#include "fuzz_common.hpp"
#include "refine.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fz::Reader r{data, size};
    const std::int64_t h = r.range(1, 48), w = r.range(1, 48);
    const std::int64_t kh = 2 * r.range(0, 15) + 1, kw = 2 * r.range(0, 15) + 1;
    const float power = r.flag() ? static_cast<float>(r.range(1, 17)) : r.real(0.01f, 20.0f);
    const int iterations = static_cast<int>(r.range(0, 3));
    std::vector<float> k(static_cast<std::size_t>(kh * kw));
    for (auto& v : k) v = r.real(-1.0f, 1.0f);
    std::vector<float> p(static_cast<std::size_t>(h * w));
    for (auto& v : p) v = r.real(0.0f, 1.0f);
    std::vector<float> out(p.size());
    try {
        facecore::check_refine_args(h, w, power, k.data(), kh, kw, iterations);
        facecore::cpu::refine_map_f32(p.data(), h, w, power, k.data(), kh, kw, iterations,
                                      r.flag() ? p.data() : out.data());
    } catch (const facecore::ArgumentError&) {
    }
    return 0;
}
