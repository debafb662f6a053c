package dev.moe.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A Mixture-of-Experts model served by a set of workers on a placement of its experts that the
 * operator keeps balanced. {@code kubectl get moe} shows whether it is ready, its workers, the
 * balancedness of its current placement and which {@link ExpertPlacement} that is ({@code -o wide}:
 * why it is not ready, and the URL of its OpenAI-compatible API).
 *
 * <p>The scale subresource maps {@code spec.parallelism.workers} (so {@code kubectl scale moe}
 * and a HorizontalPodAutoscaler work) to {@code status.workers.desired} with the workers' label
 * selector in {@code status.selector}.
 */
@Group(MoEModel.GROUP)
@Version(MoEModel.VERSION)
@Kind("MoEModel")
@Singular("moemodel")
@Plural("moemodels")
@ShortNames("moe")
@AdditionalPrinterColumn(name = "Ready", type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(name = "Workers", type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".status.workers.ready", getDescription = "Workers ready")
@AdditionalPrinterColumn(name = "Balancedness", type = AdditionalPrinterColumn.Type.NUMBER,
    jsonPath = ".status.currentPlacement.observedBalancedness",
    getDescription = "Observed balancedness of the current placement (mean / max GPU load)")
@AdditionalPrinterColumn(name = "Placement", type = AdditionalPrinterColumn.Type.STRING,
    jsonPath = ".status.currentPlacement.revision", getDescription = "The current ExpertPlacement")
@AdditionalPrinterColumn(name = "Reason", type = AdditionalPrinterColumn.Type.STRING, priority = 1,
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].reason")
@AdditionalPrinterColumn(name = "Endpoint", type = AdditionalPrinterColumn.Type.STRING, priority = 1,
    jsonPath = ".status.endpoint", getDescription = "The OpenAI-compatible API's URL in the cluster")
@AdditionalPrinterColumn(name = "Age", type = AdditionalPrinterColumn.Type.DATE,
    jsonPath = ".metadata.creationTimestamp")
public class MoEModel extends CustomResource<MoEModelSpec, MoEModelStatus> implements Namespaced {

  public static final String GROUP = "moe.dev";
  public static final String VERSION = "v1alpha1";

  public MoEModel() {}

  public MoEModel(String namespace, String name, MoEModelSpec spec) {
    getMetadata().setNamespace(namespace);
    getMetadata().setName(name);
    setSpec(spec);
  }
}
