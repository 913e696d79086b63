// Shared types and checks for facecore's compiled core. No Python here: module.cpp is the only
// file that knows about pybind11; the kernels see plain pointers, sizes and strides.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define FACECORE_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Always inlined: the per-pixel maths must melt into the callers' loops to vectorise, also
// into the AVX2 clones of blend.cpp (GCC does not inline across target options on its own).
#define FACECORE_HD inline __attribute__((always_inline))
#else
#define FACECORE_HD inline
#endif

namespace facecore {

// A view of an image: `height` rows of `width` pixels of `channels` interleaved values.
// Pixels inside a row are contiguous; rows may be `row_stride` elements apart, so a crop of
// a frame (a row-strided NumPy view) is used without a copy.
template <typename T>
struct ImageView {
    T* data = nullptr;
    std::int64_t height = 0;
    std::int64_t width = 0;
    std::int64_t channels = 1;
    std::int64_t row_stride = 0;  // in elements of T

    FACECORE_HD T* row(std::int64_t y) const { return data + y * row_stride; }
};

// Border handling shared by warp and windows: the OpenCV names.
enum class Border : int { Constant = 0, Replicate = 1 };

// Thrown for a bad argument; module.cpp turns it into ValueError. `what()` starts with the
// argument's name, as every facecore error message does.
struct ArgumentError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

inline void require(bool ok, const std::string& message) {
    if (!ok) throw ArgumentError(message);
}

// a * b * ... without signed overflow: the product of sizes that must fit in memory.
inline std::int64_t checked_size(std::initializer_list<std::int64_t> dims, const char* name) {
    std::int64_t total = 1;
    for (std::int64_t d : dims) {
        require(d >= 0, std::string(name) + ": negative size");
        if (d != 0 && total > std::numeric_limits<std::int64_t>::max() / d)
            throw ArgumentError(std::string(name) + ": size overflows 64-bit indexing");
        total *= d;
    }
    return total;
}

// The (value - mean[c]) / std[c] normalisation of warp_affine_to_nchw_f32 and
// extract_windows_nchw_f32: `channels` finite means and finite non-zero stds; swap_rb
// (B <-> R) needs 3 or 4 channels.
inline void check_normalise_args(std::int64_t channels, const float* mean, const float* std,
                                 bool swap_rb) {
    require(!swap_rb || channels >= 3, "swap_rb: needs an image with 3 or 4 channels");
    for (std::int64_t c = 0; c < channels; ++c)
        require(std::isfinite(std[c]) && std[c] != 0.0f && std::isfinite(mean[c]),
                "std: must be finite and non-zero (mean finite)");
}

}  // namespace facecore
