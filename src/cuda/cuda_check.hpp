// FACECORE_CUDA_CHECK(expr): turn a CUDA error into std::runtime_error with where and why.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define FACECORE_CUDA_CHECK(expr)                                                                \
    do {                                                                                         \
        const cudaError_t facecore_err_ = (expr);                                                \
        if (facecore_err_ != cudaSuccess)                                                        \
            throw std::runtime_error(std::string("CUDA error in ") + #expr + " (" __FILE__ ":" + \
                                     std::to_string(__LINE__) +                                  \
                                     "): " + cudaGetErrorString(facecore_err_));                 \
    } while (0)
