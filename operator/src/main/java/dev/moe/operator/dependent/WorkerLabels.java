package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import java.util.Map;

/** Labels of everything the operator creates for a model; informers select on {@link #MANAGED}. */
public final class WorkerLabels {

  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String OPERATOR = "moe-operator";
  /** The label selector of the dependents' informers. */
  public static final String MANAGED = MANAGED_BY + "=" + OPERATOR;
  public static final String MODEL = "moe.dev/model";

  private WorkerLabels() {}

  public static Map<String, String> of(MoEModel model) {
    return Map.of(MANAGED_BY, OPERATOR, MODEL, model.getMetadata().getName(),
        "app.kubernetes.io/name", "moe-worker", "app.kubernetes.io/instance", model.getMetadata().getName());
  }
}
