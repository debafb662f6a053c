package dev.moe.localcluster.system;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Runs every query of the chart's Grafana dashboard against a real Prometheus, as Grafana would
 * with "All" selected, and says which panels return data.
 */
public final class DashboardCheck {

  /** One panel query and the number of series it returned (-1: the query failed). */
  public record PanelResult(String panel, String expr, int series, String error) {}

  private static final JsonMapper JSON = JsonMapper.builder().build();

  private DashboardCheck() {}

  public static List<PanelResult> run(Path dashboard, URI prometheus) {
    JsonNode root;
    try {
      root = JSON.readTree(dashboard.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the dashboard " + dashboard, e);
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    List<PanelResult> results = new ArrayList<>();
    for (JsonNode panel : root.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        String expr = target.path("expr").asText();
        if (!expr.isEmpty()) {
          results.add(query(http, prometheus, panel.path("title").asText(), expr));
        }
      }
    }
    return results;
  }

  /** Grafana's variables as "All" and a range fit for a short run. */
  static String substitute(String expr) {
    return expr.replace("$namespace", ".*").replace("$model", ".*").replace("$__rate_interval", "1m")
        .replace("$__interval", "15s").replace("$__range", "5m");
  }

  private static PanelResult query(HttpClient http, URI prometheus, String panel, String expr) {
    String q = substitute(expr);
    URI uri = prometheus.resolve("/api/v1/query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8));
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonNode body = JSON.readTree(r.body());
      if (r.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
        return new PanelResult(panel, q, -1, r.statusCode() + " " + body.path("error").asText(r.body()));
      }
      return new PanelResult(panel, q, body.path("data").path("result").size(), null);
    } catch (IOException e) {
      return new PanelResult(panel, q, -1, "Prometheus at " + prometheus + " unreachable: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new PanelResult(panel, q, -1, "interrupted");
    }
  }

  /** Prints one line per query; true when every one returned data. */
  public static boolean print(List<PanelResult> results, PrintStream out) {
    out.println("Grafana dashboard, each panel's query on Prometheus:");
    boolean all = !results.isEmpty();
    for (PanelResult r : results) {
      all &= r.series() > 0;
      out.printf(Locale.ROOT, "  %-40s %s%n", r.panel(), r.series() > 0 ? r.series() + " series"
          : r.series() == 0 ? "NO DATA: " + r.expr() : "FAILED: " + r.error());
    }
    return all;
  }
}
