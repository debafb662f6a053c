package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/**
 * What a worker may read: its model and the model's placement revisions (to load the served one on
 * start), and its own statistics token; nothing else, nothing writable.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerRoleDependent extends CRUDKubernetesDependentResource<Role, MoEModel> {

  public WorkerRoleDependent() {
    super(Role.class);
  }

  @Override
  protected Role desired(MoEModel model, Context<MoEModel> context) {
    return new RoleBuilder()
        .withNewMetadata().withName(WorkerServiceAccountDependent.name(model))
        .withNamespace(model.getMetadata().getNamespace()).withLabels(WorkerLabels.of(model)).endMetadata()
        .withRules(
            new PolicyRuleBuilder().withApiGroups(MoEModel.GROUP).withResources("moemodels")
                .withResourceNames(model.getMetadata().getName()).withVerbs("get", "watch").build(),
            new PolicyRuleBuilder().withApiGroups(MoEModel.GROUP).withResources("expertplacements")
                .withVerbs("get", "list", "watch").build(),
            new PolicyRuleBuilder().withApiGroups("").withResources("secrets")
                .withResourceNames(StatsTokenSecretDependent.name(model)).withVerbs("get").build())
        .build();
  }
}
