package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/**
 * The headless Service that gives each worker a stable DNS name ({@code <pod>.<service>}), which
 * the workers' peer list uses; not-ready workers are published so peers can connect while starting.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerServiceDependent extends CRUDKubernetesDependentResource<Service, MoEModel> {

  public WorkerServiceDependent() {
    super(Service.class);
  }

  @Override
  protected Service desired(MoEModel model, Context<MoEModel> context) {
    return new ServiceBuilder()
        .withNewMetadata().withName(WorkerStatefulSetDependent.name(model))
        .withNamespace(model.getMetadata().getNamespace()).withLabels(WorkerLabels.of(model)).endMetadata()
        .withNewSpec()
        .withClusterIP("None")
        .withPublishNotReadyAddresses(true)
        .withSelector(WorkerStatefulSetDependent.selector(model))
        .withPorts(
            new ServicePortBuilder().withName("http").withPort(WorkerStatefulSetDependent.HTTP_PORT).build(),
            new ServicePortBuilder().withName("transport").withPort(WorkerStatefulSetDependent.TRANSPORT_PORT).build())
        .endSpec()
        .build();
  }
}
