package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/** The workers' ServiceAccount: the identity their Role binds. */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerServiceAccountDependent extends CRUDKubernetesDependentResource<ServiceAccount, MoEModel> {

  public WorkerServiceAccountDependent() {
    super(ServiceAccount.class);
  }

  public static String name(MoEModel model) {
    return model.getMetadata().getName() + "-worker";
  }

  @Override
  protected ServiceAccount desired(MoEModel model, Context<MoEModel> context) {
    return new ServiceAccountBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withAutomountServiceAccountToken(true)
        .build();
  }
}
