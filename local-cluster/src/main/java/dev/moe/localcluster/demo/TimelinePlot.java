package dev.moe.localcluster.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * An SVG line chart of series over time, stacked panels sharing the time axis, with marked
 * moments (the shift, the rebalance): plain SVG, so the README can show it and nothing needs a
 * plotting library.
 */
public final class TimelinePlot {

  /** A named line of (seconds, value) points. */
  public record Series(String name, String color, double[] t, double[] v) {}

  /** One panel: its title, y range and lines. */
  public record Panel(String title, double yMin, double yMax, List<Series> series) {}

  /** A vertical line across every panel. */
  public record Marker(String label, double t) {}

  private static final int WIDTH = 900;
  private static final int PANEL_HEIGHT = 220;
  private static final int LEFT = 60;
  private static final int RIGHT = 200;
  private static final int TOP = 30;
  private static final int GAP = 50;

  private TimelinePlot() {}

  public static String svg(String title, List<Panel> panels, List<Marker> markers, double tMax) {
    int height = TOP + panels.size() * (PANEL_HEIGHT + GAP);
    StringBuilder s = new StringBuilder();
    s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
        + " font-family=\"sans-serif\" font-size=\"12\">\n", WIDTH, height));
    s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", WIDTH, height));
    s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
        LEFT, escape(title)));
    int plotWidth = WIDTH - LEFT - RIGHT;
    for (int p = 0; p < panels.size(); p++) {
      Panel panel = panels.get(p);
      int y0 = TOP + p * (PANEL_HEIGHT + GAP) + 20;
      Frame f = new Frame(LEFT, y0, plotWidth, PANEL_HEIGHT - 20, tMax, panel.yMin(), panel.yMax());
      s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n", LEFT, y0 - 6,
          escape(panel.title())));
      s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\""
          + " stroke=\"#888\"/>\n", f.x, f.y, f.w, f.h));
      for (int i = 0; i <= 4; i++) {
        double v = panel.yMin() + (panel.yMax() - panel.yMin()) * i / 4;
        double y = f.y(v);
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
            + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", f.x, f.x + f.w, y, y, f.x - 4, y + 4,
            number(v)));
      }
      for (int i = 0; i <= 6; i++) {
        double t = tMax * i / 6;
        s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%ss</text>\n", f.x(t),
            f.y + f.h + 14, number(t)));
      }
      for (Marker m : markers) {
        double x = f.x(m.t());
        s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#555\""
            + " stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" fill=\"#555\">%s</text>\n", x, x, f.y,
            f.y + f.h, x + 3, f.y + 12, escape(m.label())));
      }
      for (int i = 0; i < panel.series().size(); i++) {
        Series line = panel.series().get(i);
        List<String> points = new ArrayList<>();
        for (int j = 0; j < line.t().length; j++) {
          points.add(String.format(Locale.ROOT, "%.1f,%.1f", f.x(line.t()[j]), f.y(line.v()[j])));
        }
        s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\""
            + " points=\"%s\"/>\n", line.color(), String.join(" ", points)));
        int ly = f.y + 16 + i * 18;
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\""
            + " stroke-width=\"3\"/><text x=\"%d\" y=\"%d\">%s</text>\n", f.x + f.w + 10, f.x + f.w + 28, ly - 4,
            ly - 4, line.color(), f.x + f.w + 32, ly, escape(line.name())));
      }
    }
    return s.append("</svg>\n").toString();
  }

  /** Maps data to pixels in one panel; values outside the range are clamped to its edge. */
  private record Frame(int x, int y, int w, int h, double tMax, double yMin, double yMax) {
    double x(double t) {
      return x + w * Math.clamp(t / tMax, 0, 1);
    }

    double y(double v) {
      return y + h - h * Math.clamp((v - yMin) / (yMax - yMin), 0, 1);
    }
  }

  private static String number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.2f", v);
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
