// A fixed pool of worker threads running one parallel region at a time.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
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
  // first exception thrown by any worker is rethrown here. `fn` is called by reference (no copy, no
  // allocation: this runs several times per decoder layer).
  template <typename Fn>
  void run(Fn &&fn) {
    using F = std::remove_reference_t<Fn>;
    run_task({[](void *f, int worker) { (*static_cast<F *>(f))(worker); }, const_cast<void *>(static_cast<const void *>(&fn))});
  }

 private:
  struct Task {
    void (*call)(void *fn, int worker);
    void *fn;
    void operator()(int worker) const { call(fn, worker); }
  };

  void run_task(Task task);
  void worker_loop(int worker);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  Task task_{};
  unsigned long generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace moe
