// Page-aligned, zero-filled memory from mmap: large weight banks and workspaces get transparent huge
// pages (fewer TLB misses while streaming weights), and untouched pages cost nothing.
#pragma once

#include <cstddef>

namespace moe {

class MappedBuffer {
 public:
  MappedBuffer() = default;
  explicit MappedBuffer(size_t bytes);
  ~MappedBuffer();
  MappedBuffer(MappedBuffer &&other) noexcept;
  MappedBuffer &operator=(MappedBuffer &&other) noexcept;
  MappedBuffer(const MappedBuffer &) = delete;
  MappedBuffer &operator=(const MappedBuffer &) = delete;

  void *data() const { return data_; }
  size_t size() const { return size_; }
  template <typename T>
  T *as() const {
    return static_cast<T *>(data_);
  }
  // Makes the buffer at least `bytes` long; the contents are not kept.
  void reserve(size_t bytes);

 private:
  void *data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace moe
