package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/** Work per layer on a fixed number of threads: layers are independent given the placement's shape. */
final class ParallelLayers {

  private ParallelLayers() {}

  /**
   * {@code task(0..n-1)} on {@code threads} threads, results in order; a task's runtime exception
   * is thrown as is.
   *
   * @param what what is interrupted, for the message
   */
  static <T> List<T> map(int threads, int n, IntFunction<T> task, String what) {
    List<T> out = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<T>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int index = i;
        futures.add(pool.submit(() -> task.apply(index)));
      }
      for (Future<T> f : futures) {
        out.add(f.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(what + " interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    }
    return out;
  }
}
