package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/** Binds the workers' Role to their ServiceAccount. */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerRoleBindingDependent extends CRUDKubernetesDependentResource<RoleBinding, MoEModel> {

  public WorkerRoleBindingDependent() {
    super(RoleBinding.class);
  }

  @Override
  protected RoleBinding desired(MoEModel model, Context<MoEModel> context) {
    String name = WorkerServiceAccountDependent.name(model);
    return new RoleBindingBuilder()
        .withNewMetadata().withName(name).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(name).endRoleRef()
        .addNewSubject().withKind("ServiceAccount").withName(name)
        .withNamespace(model.getMetadata().getNamespace()).endSubject()
        .build();
  }
}
