package dev.moe.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.cli.WorkerCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class BenchKernelsCommandTest {

  private static final Pattern FIGURE =
      Pattern.compile("^(FMA peak|read bandwidth)[^:]*: ([0-9.]+) ", Pattern.MULTILINE);
  /** tokens, ours ms, GFLOP/s, % peak, OpenBLAS ms, speed x, GB/s, % bw. */
  private static final Pattern ROW = Pattern.compile(
      "^\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)$",
      Pattern.MULTILINE);

  @Test
  void quickModePrintsPositiveFiguresForBothShapes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(new String[] {"bench-kernels", "--quick", "--backend", "cpu", "--threads", "2"},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    String text = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));

    Matcher figures = FIGURE.matcher(text);
    int machineFigures = 0;
    while (figures.find()) {
      assertTrue(Double.parseDouble(figures.group(2)) > 0, figures.group());
      machineFigures++;
    }
    assertEquals(2, machineFigures, text);
    assertTrue(text.contains("DeepSeek-V3 expert / 8: hidden 896, inter 256"), text);
    assertTrue(text.contains("Mixtral-8x7B expert / 8: hidden 512, inter 1792"), text);

    Matcher rows = ROW.matcher(text);
    int count = 0;
    while (rows.find()) {
      int tokens = Integer.parseInt(rows.group(1));
      assertTrue(List.of(1, 8, 64).contains(tokens), rows.group());
      for (int g = 2; g <= 4; g++) {  // time, GFLOP/s, % of peak
        assertTrue(Double.parseDouble(rows.group(g)) > 0, rows.group());
      }
      for (int g = 5; g <= 6; g++) {  // OpenBLAS columns: a positive number, or "-" without OpenBLAS
        assertTrue(rows.group(g).equals("-") || Double.parseDouble(rows.group(g)) > 0, rows.group());
      }
      for (int g = 7; g <= 8; g++) {  // bandwidth columns: only for streaming batches
        if (tokens <= KernelBenchmark.STREAMING_TOKENS) {
          assertTrue(Double.parseDouble(rows.group(g)) > 0, rows.group());
        } else {
          assertEquals("-", rows.group(g), rows.group());
        }
      }
      count++;
    }
    assertEquals(6, count, text);
  }

  @Test
  void negativeThreadsAreAUserError() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(new String[] {"bench-kernels", "--quick", "--threads", "-1"},
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, code);
    String message = err.toString(StandardCharsets.UTF_8);
    assertTrue(message.contains("--threads must be 0"), message);
  }
}
