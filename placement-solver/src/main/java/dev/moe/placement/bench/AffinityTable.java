package dev.moe.placement.bench;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.Placer;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.placement.baseline.ExFlowPlacer;
import dev.moe.placement.baseline.MoETunerPlacer;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Inter-layer affinity side by side on the cross-layer files: EPLB, ours without and with the
 * affinity pass, and the papers' programs (ExFlow, MoETuner) under the same time limit and threads.
 * Each row: the cross-GPU transition fraction and balancedness of each; ours again with as much
 * balance to give up as the better paper (fewer crossing transitions) gave up, for the trade at
 * equal balancedness; and whether ours meets issue 19's target (balancedness at least 0.99 of its
 * affinity-free value, and no more transitions crossing GPUs than the better paper).
 */
public final class AffinityTable {

  /** What the target allows ours to give up of its affinity-free balancedness. */
  static final double BALANCE_KEPT = 0.99;

  private record Case(String model, String domain, RoutingStats stats, ClusterSpec cluster) {}

  private AffinityTable() {}

  public static void print(Path data, SolverOptions options, boolean quick, PrintStream out) {
    out.println("## Inter-layer affinity against ExFlow and MoETuner (layers 0 -> 7 -> 15)");
    out.println();
    out.printf(Locale.ROOT,
        "Same time limit (%ss per solve) and threads (%d) for ours and both programs; EPLB is instant.%n%n",
        options.timeLimit().toMillis() / 1000.0, options.threads());
    out.println("| model | domain | GPUs x slots | cross-GPU EPLB | ours without | ours with | ExFlow | MoETuner "
        + "| ours at the better paper's balancedness | balancedness EPLB | ours without | ours with | ExFlow "
        + "| MoETuner | target |");
    out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (Case c : cases(data, quick)) {
      PlacementReport eplb = report(new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1), c);
      PlacementReport plain = new PlacementSolver(options.withAffinityWeight(0)).solve(c.stats(), c.cluster(), null).report();
      PlacementReport affine = new PlacementSolver(options).solve(c.stats(), c.cluster(), null).report();
      PlacementReport exFlow = report(new ExFlowPlacer(options.timeLimit(), options.threads()), c);
      PlacementReport moETuner = report(new MoETunerPlacer(options.timeLimit(), options.threads()), c);
      PlacementReport better = exFlow.crossGpuTransitionFraction() <= moETuner.crossGpuTransitionFraction()
          ? exFlow : moETuner;
      boolean met = affine.balancedness() >= BALANCE_KEPT * plain.balancedness()
          && affine.crossGpuTransitionFraction() <= better.crossGpuTransitionFraction() + 1e-9;
      // Ours given as much balance to spend as the better paper spent: the same trade, compared.
      double slack = Math.max(0, plain.balancedness() / better.balancedness() - 1);
      PlacementReport matched = new PlacementSolver(options.withAffinityWeight(slack))
          .solve(c.stats(), c.cluster(), null).report();
      out.printf(Locale.ROOT,
          "| %s | %s | %d x %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f (%.4f) | %.4f | %.4f | %.4f | %.4f | %.4f | %s |%n",
          c.model(), c.domain(), c.cluster().gpus(), c.cluster().slotsPerGpu(),
          eplb.crossGpuTransitionFraction(), plain.crossGpuTransitionFraction(),
          affine.crossGpuTransitionFraction(), exFlow.crossGpuTransitionFraction(),
          moETuner.crossGpuTransitionFraction(), matched.crossGpuTransitionFraction(), matched.balancedness(),
          eplb.balancedness(), plain.balancedness(),
          affine.balancedness(), exFlow.balancedness(), moETuner.balancedness(), met ? "met" : "not met");
    }
    out.println();
  }

  /**
   * OLMoE (64 experts) on 8 GPUs in 2 nodes, and Mixtral (8 experts) on 4 GPUs in 2 nodes, each
   * without and with spare slots. Mixtral's per-layer counts come from another recording than its
   * transitions; only the layers the transitions link are kept, so that balancedness is measured on
   * the same layers for every placer.
   */
  private static List<Case> cases(Path data, boolean quick) {
    Path crossLayer = data.resolve("olmoe-crosslayer");
    Path mixtralCounts = data.resolve("mixtral-8x7b").resolve("expert_activation_count_mixtral8x7b_32x8.csv");
    List<String> domains = quick ? List.of("arxiv") : List.of("arxiv", "book", "github");
    List<Case> cases = new ArrayList<>();
    for (String domain : domains) {
      RoutingStats olmoe = RoutingStatsReader.readLayerCounts(
          crossLayer.resolve("olmoe__expert_counts__" + domain + ".json"),
          crossLayer.resolve("olmoe__expert_counts_crosslayer__" + domain + ".json"));
      for (int slots : quick ? new int[] {8} : new int[] {8, 9}) {
        cases.add(new Case("OLMoE", domain, olmoe, new ClusterSpec(8, 4, slots)));
      }
    }
    for (String domain : domains) {
      RoutingStats mixtral = linkedLayersOnly(RoutingStatsReader.readLayerCounts(
          mixtralCounts, crossLayer.resolve("mistral__expert_counts_crosslayer__" + domain + ".json")));
      for (int slots : quick ? new int[] {2} : new int[] {2, 3}) {
        cases.add(new Case("Mixtral", domain, mixtral, new ClusterSpec(4, 2, slots)));
      }
    }
    return cases;
  }

  /** The statistics with every layer no transition names made dense (all zero). */
  private static RoutingStats linkedLayersOnly(RoutingStats stats) {
    double[][] counts = new double[stats.layers()][stats.experts()];
    for (LayerPair pair : stats.transitions().keySet()) {
      counts[pair.from()] = stats.load(pair.from()).clone();
      counts[pair.to()] = stats.load(pair.to()).clone();
    }
    return new RoutingStats(counts, stats.transitions(), stats.coactivation());
  }

  private static PlacementReport report(Placer placer, Case c) {
    Placement placement = placer.place(c.stats(), c.cluster());
    return PlacementEvaluator.evaluate(c.stats(), c.cluster(), placement, null, 0);
  }
}
