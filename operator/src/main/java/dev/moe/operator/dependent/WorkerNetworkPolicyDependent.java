package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRuleBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Who may reach a model's workers (enforced by the cluster's network plugin, where it enforces
 * NetworkPolicies): the transport port only from the model's own workers, the control port only
 * from the operator's pods, the OpenAI API and the plain port (probes, metrics) from anywhere, as
 * the model's Service, the kubelet and Prometheus need. The operator's pods are named by the
 * chart's environment ({@link OperatorPods}); without it no pod reaches the control port.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerNetworkPolicyDependent extends CRUDKubernetesDependentResource<NetworkPolicy, MoEModel> {

  private static final OperatorPods OPERATOR = OperatorPods.fromEnvironment();

  public WorkerNetworkPolicyDependent() {
    super(NetworkPolicy.class);
  }

  public static String name(MoEModel model) {
    return WorkerStatefulSetDependent.name(model);
  }

  @Override
  protected NetworkPolicy desired(MoEModel model, Context<MoEModel> context) {
    return policy(model, OPERATOR);
  }

  /** The policy of {@code model}'s workers, the control port open to {@code operator}'s pods. */
  public static NetworkPolicy policy(MoEModel model, OperatorPods operator) {
    LabelSelector workers = new LabelSelectorBuilder().withMatchLabels(WorkerStatefulSetDependent.selector(model)).build();
    List<NetworkPolicyIngressRule> rules = new ArrayList<>();
    rules.add(rule(WorkerStatefulSetDependent.TRANSPORT_PORT,
        List.of(new NetworkPolicyPeerBuilder().withPodSelector(workers).build())));
    if (operator != null) {
      rules.add(rule(WorkerStatefulSetDependent.CONTROL_PORT, List.of(new NetworkPolicyPeerBuilder()
          .withNewNamespaceSelector().addToMatchLabels("kubernetes.io/metadata.name", operator.namespace())
          .endNamespaceSelector()
          .withNewPodSelector().withMatchLabels(operator.labels()).endPodSelector().build())));
    }
    // No peers: from anywhere.
    rules.add(new NetworkPolicyIngressRuleBuilder().withPorts(port(WorkerStatefulSetDependent.API_PORT),
        port(WorkerStatefulSetDependent.HTTP_PORT)).build());
    return new NetworkPolicyBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withNewSpec().withPodSelector(workers).withPolicyTypes("Ingress").withIngress(rules).endSpec()
        .build();
  }

  private static NetworkPolicyIngressRule rule(int port, List<NetworkPolicyPeer> from) {
    return new NetworkPolicyIngressRuleBuilder().withFrom(from).withPorts(port(port)).build();
  }

  private static NetworkPolicyPort port(int port) {
    return new NetworkPolicyPortBuilder().withProtocol("TCP").withPort(new IntOrString(port)).build();
  }

  /**
   * The operator's own pods: their namespace and labels, from {@code MOE_OPERATOR_NAMESPACE} and
   * {@code MOE_OPERATOR_POD_SELECTOR} ({@code k=v,k=v}), which the chart sets.
   */
  public record OperatorPods(String namespace, Map<String, String> labels) {

    /** From the environment; null when it does not say (the operator runs outside the cluster). */
    static OperatorPods fromEnvironment() {
      String ns = System.getenv("MOE_OPERATOR_NAMESPACE");
      String selector = System.getenv("MOE_OPERATOR_POD_SELECTOR");
      return ns == null || ns.isBlank() || selector == null || selector.isBlank() ? null : parse(ns, selector);
    }

    /** {@code selector} as {@code k=v,k=v}. */
    public static OperatorPods parse(String namespace, String selector) {
      Map<String, String> labels = new LinkedHashMap<>();
      for (String pair : selector.split(",")) {
        int eq = pair.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("MOE_OPERATOR_POD_SELECTOR: '" + pair + "' is not key=value");
        }
        labels.put(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip());
      }
      return new OperatorPods(namespace, Map.copyOf(labels));
    }
  }
}
