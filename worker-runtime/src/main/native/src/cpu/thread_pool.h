// A fixed pool of worker threads running one parallel region at a time.
//
// A decode step runs several regions per layer with a little host work between them, so a worker
// that has finished one keeps polling for the next for a short while (kSpin) before it sleeps on
// the condition variable: waking a sleeping thread costs tens of microseconds, as much as a small
// region's work. The caller likewise polls for the others to finish before it sleeps. Polls yield
// the core, so that where threads outnumber cores the polling never starves the work it waits for.
#pragma once

#include <atomic>
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
  // Guards the sleeping side of the handshakes below; the fields themselves are atomics so that
  // polling threads need no lock.
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  Task task_{};                               // published by generation_ (release/acquire)
  std::atomic<unsigned long> generation_{0};  // incremented (under mutex_) for each region
  std::atomic<int> pending_{0};               // workers of the current region not done yet
  std::atomic<int> sleepers_{0};              // workers asleep on start_cv_
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;                  // first failure of a worker, under mutex_
};

}  // namespace moe
