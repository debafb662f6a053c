// A fixed pool of worker threads running one parallel region at a time.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moe {

class ThreadPool {
 public:
  // `threads` <= 0: one per online core. The calling thread is worker 0, so threads - 1 are spawned.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return size_; }

  // Runs fn(worker) on every worker, 0 <= worker < size(), and returns when all have finished. The
  // first exception thrown by any worker is rethrown here.
  void run(const std::function<void(int)> &fn);

 private:
  void worker_loop(int worker);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int)> *task_ = nullptr;
  unsigned long generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace moe
