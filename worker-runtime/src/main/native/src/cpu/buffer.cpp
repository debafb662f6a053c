#include "cpu/buffer.h"

#include <sys/mman.h>

#include <utility>

#include "internal.h"

namespace moe {

MappedBuffer::MappedBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail(MOE_ERR_NOMEM, "cannot map " + std::to_string(bytes) + " bytes of host memory");
  madvise(p, bytes, MADV_HUGEPAGE);  // advisory: fine to fail where THP is off
  data_ = p;
}

MappedBuffer::~MappedBuffer() {
  if (data_) munmap(data_, size_);
}

MappedBuffer::MappedBuffer(MappedBuffer &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedBuffer &MappedBuffer::operator=(MappedBuffer &&other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  return *this;
}

void MappedBuffer::reserve(size_t bytes) {
  if (bytes > size_) *this = MappedBuffer(bytes);
}

}  // namespace moe
