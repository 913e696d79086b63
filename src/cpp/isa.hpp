// Run-time choice between a kernel's baseline build (x86-64-v2) and its AVX2 clone
// (a *_avx2.cpp translation unit compiled with -march=x86-64-v3).
#pragma once

#include <cstdlib>
#include <cstring>

namespace facecore {
namespace cpu {

// FACECORE_ISA=baseline keeps the baseline build even on an AVX2 CPU: the tests use it to
// check that both builds give the same bits.
inline bool baseline_forced() {
    static const bool forced = [] {
        const char* v = std::getenv("FACECORE_ISA");
        return v != nullptr && std::strcmp(v, "baseline") == 0;
    }();
    return forced;
}

// True when this CPU runs AVX2 code and the baseline is not forced.
inline bool avx2_allowed() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static const bool ok = __builtin_cpu_supports("avx2") && !baseline_forced();
    return ok;
#else
    return false;
#endif
}

// The AVX2 clone where it exists (non-null) and may run here, else the baseline build.
template <typename Fn>
inline Fn pick(Fn avx2_clone, Fn baseline) {
    return avx2_clone != nullptr && avx2_allowed() ? avx2_clone : baseline;
}

}  // namespace cpu
}  // namespace facecore
