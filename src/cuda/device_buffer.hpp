// RAII device memory for the CUDA kernels' scratch (sampling maps, prefix sums, ping-pong
// maps) and for facecore._cuda.DeviceMemory, plus pinned host staging.
//
// Device memory comes from the stream-ordered allocator (cudaMallocAsync / cudaFreeAsync):
// a kernel's scratch is allocated, used and freed in the caller's stream, so none of it
// synchronises the host or the device (cudaFree would synchronise the whole device). Where
// the device has no memory pools, plain cudaMalloc / cudaFree is the fallback.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda_check.hpp"

namespace facecore {
namespace cuda {

template <typename T>
class DeviceBuffer {
  public:
    DeviceBuffer() = default;

    // `count` elements of T, owned by `stream`: freed there, after the work queued before.
    DeviceBuffer(std::size_t count, cudaStream_t stream) : count_(count), stream_(stream) {
        if (count == 0) return;
        void* p = nullptr;
        const cudaError_t err = cudaMallocAsync(&p, count * sizeof(T), stream);
        if (err == cudaErrorNotSupported) {
            cudaGetLastError();  // not sticky; clear it and take the synchronous allocator
            FACECORE_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
            stream_ordered_ = false;
        } else {
            FACECORE_CUDA_CHECK(err);
        }
        data_ = static_cast<T*>(p);
    }

    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) {
            reset();
            swap(o);
        }
        return *this;
    }
    ~DeviceBuffer() { reset(); }

    T* data() const { return data_; }
    std::size_t size() const { return count_; }
    std::size_t bytes() const { return count_ * sizeof(T); }
    cudaStream_t stream() const { return stream_; }

    // Queue a copy of `count` host elements into the buffer. From pageable memory the call
    // returns once CUDA has staged the source, so `host` may be freed right after.
    void upload(const T* host, std::size_t count) {
        if (count == 0) return;
        FACECORE_CUDA_CHECK(
            cudaMemcpyAsync(data_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream_));
    }

    // Errors are ignored here: a destructor must not throw, and a failed free leaves nothing
    // to recover (the next CUDA call reports a sticky error if the context is broken).
    void reset() noexcept {
        if (data_ == nullptr) return;
        if (stream_ordered_)
            cudaFreeAsync(data_, stream_);
        else
            cudaFree(data_);
        data_ = nullptr;
        count_ = 0;
    }

  private:
    void swap(DeviceBuffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(count_, o.count_);
        std::swap(stream_, o.stream_);
        std::swap(stream_ordered_, o.stream_ordered_);
    }

    T* data_ = nullptr;
    std::size_t count_ = 0;
    cudaStream_t stream_ = nullptr;
    bool stream_ordered_ = true;
};

// Page-locked host memory: the staging area that makes a host<->device copy truly
// asynchronous (from pageable memory CUDA stages through its own buffer, synchronously).
// The owner must keep it alive until the copies that use it have completed.
template <typename T>
class PinnedBuffer {
  public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(std::size_t count) : count_(count) {
        if (count == 0) return;
        void* p = nullptr;
        FACECORE_CUDA_CHECK(cudaMallocHost(&p, count * sizeof(T)));
        data_ = static_cast<T*>(p);
    }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    PinnedBuffer(PinnedBuffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
    PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
        if (this != &o) {
            reset();
            data_ = std::exchange(o.data_, nullptr);
            count_ = std::exchange(o.count_, 0);
        }
        return *this;
    }
    ~PinnedBuffer() { reset(); }

    T* data() const { return data_; }
    std::size_t size() const { return count_; }

    void reset() noexcept {
        if (data_ != nullptr) cudaFreeHost(data_);
        data_ = nullptr;
        count_ = 0;
    }

  private:
    T* data_ = nullptr;
    std::size_t count_ = 0;
};

// Makes `device` current for a scope and restores the previous one.
class DeviceGuard {
  public:
    explicit DeviceGuard(int device) {
        FACECORE_CUDA_CHECK(cudaGetDevice(&previous_));
        if (previous_ != device)
            FACECORE_CUDA_CHECK(cudaSetDevice(device));
        else
            previous_ = -1;
    }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;
    ~DeviceGuard() {
        if (previous_ >= 0) cudaSetDevice(previous_);
    }

  private:
    int previous_ = -1;
};

}  // namespace cuda
}  // namespace facecore
