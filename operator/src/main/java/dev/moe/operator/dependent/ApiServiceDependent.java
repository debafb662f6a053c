package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/**
 * The model's OpenAI-compatible API in the cluster: a ClusterIP Service over the ready workers'
 * {@code api} port. Any worker takes any request (data-parallel attention), so it balances over
 * all of them.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class ApiServiceDependent extends CRUDKubernetesDependentResource<Service, MoEModel> {

  public static final int PORT = WorkerStatefulSetDependent.API_PORT;

  public ApiServiceDependent() {
    super(Service.class);
  }

  public static String name(MoEModel model) {
    return model.getMetadata().getName() + "-api";
  }

  /** The API's base URL for clients in the cluster. */
  public static String endpoint(MoEModel model) {
    return "http://" + name(model) + "." + model.getMetadata().getNamespace() + ".svc:" + PORT + "/v1";
  }

  @Override
  protected Service desired(MoEModel model, Context<MoEModel> context) {
    return new ServiceBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withNewSpec()
        .withType("ClusterIP")
        .withSelector(WorkerStatefulSetDependent.selector(model))
        .withPorts(new ServicePortBuilder().withName("api").withPort(PORT).withTargetPort(new IntOrString("api"))
            .withProtocol("TCP").build())
        .endSpec()
        .build();
  }
}
