package dev.moe.runtime.nativelib;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Tests of the native bindings on one CPU backend of two threads, opened once per test class. */
abstract class CpuBackendTest {

  static Backend backend;

  @BeforeAll
  static void open() {
    backend = Backend.open(BackendChoice.CPU, 2);
  }

  @AfterAll
  static void close() {
    backend.close();
  }
}
