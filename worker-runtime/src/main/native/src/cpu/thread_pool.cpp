#include "cpu/thread_pool.h"

#include <sched.h>
#include <unistd.h>

#include <chrono>

namespace moe {
namespace {

// How long a thread polls before it sleeps: longer than the host work between two regions of a
// decode step, short enough that an idle pool costs nothing measurable.
constexpr auto kSpin = std::chrono::microseconds(200);

// Polls `done` until it holds or kSpin passes; true when it holds. Each poll yields the core, so
// on a machine with more runnable threads than cores the thread being waited for gets to run.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    if (done()) return true;
    sched_yield();
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    threads = online > 0 ? int(online) : 1;
  }
  size_ = threads;
  for (int w = 1; w < size_; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  start_cv_.notify_all();
  for (auto &t : threads_) t.join();
}

void ThreadPool::run_task(Task fn) {
  if (size_ == 1) {
    fn(0);
    return;
  }
  task_ = fn;
  error_ = nullptr;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  {
    // Under the mutex, so that a worker deciding to sleep either sees the new region or is counted
    // in sleepers_ before we look.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load() > 0) start_cv_.notify_all();
  std::exception_ptr mine;
  try {
    fn(0);
  } catch (...) {
    mine = std::current_exception();
  }
  auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, finished);
  }
  task_ = Task{};
  if (mine) std::rethrow_exception(mine);
  std::lock_guard<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int worker) {
  unsigned long seen = 0;
  for (;;) {
    auto fresh = [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(fresh)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      start_cv_.wait(lock, fresh);
      sleepers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    std::exception_ptr error;
    try {
      task_(worker);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = error;
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep on done_cv_: take the mutex so the wake-up cannot fall between its
      // check and its wait.
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace moe
