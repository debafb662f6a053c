package dev.moe.runtime.nativelib;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Finds and loads {@code libmoe_runtime.so}. The build puts it in the jar under
 * {@code /native/<platform>/}; a shared object cannot be loaded from inside a jar, so it is copied
 * to a temporary file once per process (deleted on exit) and loaded from there, for the life of
 * the process. A library file given by the system property {@value #PATH_PROPERTY} (or else the
 * environment variable {@value #PATH_VARIABLE}) is loaded instead: one built elsewhere, such as on
 * a GPU machine by {@code worker-runtime/scripts/gpu-check}.
 */
public final class NativeLibrary {

  static final String PLATFORM = "linux-x86_64";
  static final String RESOURCE = "/native/" + PLATFORM + "/libmoe_runtime.so";
  public static final String PATH_PROPERTY = "moe.nativeLibrary";
  public static final String PATH_VARIABLE = "MOE_NATIVE_LIBRARY";

  private static SymbolLookup lookup;
  private static Path path;
  private static NativeException failure;

  private NativeLibrary() {}

  /** The library's symbols, loading it on first use; a failure is remembered and rethrown. */
  public static synchronized SymbolLookup lookup() {
    if (lookup == null) {
      if (failure == null) {
        try {
          load();
        } catch (NativeException e) {
          failure = e;
        }
      }
      if (failure != null) {
        throw new NativeException(failure.status(), failure.getMessage(), failure);
      }
    }
    return lookup;
  }

  /** Where the loaded copy of the library is (loading it if needed). */
  public static synchronized Path path() {
    lookup();
    return path;
  }

  private static void load() {
    String os = System.getProperty("os.name", "?");
    String arch = System.getProperty("os.arch", "?");
    if (!platformOf(os, arch).equals(PLATFORM)) {
      throw new NativeException(NativeException.LOAD_FAILED, "unsupported platform " + os + "/" + arch
          + ": the worker runtime's native library is built for " + PLATFORM + " only");
    }
    Path given = given(System.getProperty(PATH_PROPERTY), System.getenv(PATH_VARIABLE));
    Path file = given != null ? given : extract(RESOURCE);
    try {
      lookup = SymbolLookup.libraryLookup(file, Arena.global());
      path = file;
    } catch (IllegalArgumentException e) {
      String what = given != null ? file.toString() : RESOURCE + " (copied to " + file + ")";
      throw new NativeException(NativeException.LOAD_FAILED,
          "cannot load the native library " + what + ": " + e.getMessage(), e);
    }
  }

  /**
   * The library file named by the system property's value {@code property}, else by the environment
   * variable's {@code variable}; null when neither names one.
   */
  static Path given(String property, String variable) {
    String source = property != null && !property.isBlank() ? "-D" + PATH_PROPERTY
        : variable != null && !variable.isBlank() ? PATH_VARIABLE : null;
    if (source == null) {
      return null;
    }
    Path file = Path.of(source.equals(PATH_VARIABLE) ? variable : property).toAbsolutePath();
    if (!Files.isRegularFile(file)) {
      throw new NativeException(NativeException.LOAD_FAILED,
          "the native library " + file + " given by " + source + " is not a file");
    }
    return file;
  }

  /** Copies the classpath resource {@code resource} to a temporary file deleted when the JVM exits. */
  static Path extract(String resource) {
    try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new NativeException(NativeException.LOAD_FAILED, "the native library " + resource
            + " is not on the classpath: this build of worker-runtime was made without it (the CMake step of"
            + " the Maven build puts it into target/classes)");
      }
      Path file = Files.createTempFile("libmoe_runtime-", ".so");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      return file;
    } catch (IOException e) {
      throw new NativeException(NativeException.LOAD_FAILED,
          "cannot extract the native library " + resource + " to a temporary file: " + e.getMessage(), e);
    }
  }

  /** The platform directory name for Java's {@code os.name} and {@code os.arch}, e.g. {@code linux-x86_64}. */
  static String platformOf(String osName, String osArch) {
    String os = osName.toLowerCase(Locale.ROOT).startsWith("linux") ? "linux" : osName.toLowerCase(Locale.ROOT);
    String arch = switch (osArch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch64";
      default -> osArch;
    };
    return os + "-" + arch;
  }
}
