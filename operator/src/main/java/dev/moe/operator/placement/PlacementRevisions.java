package dev.moe.operator.placement;

import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.ExpertPlacementSpec;
import dev.moe.crds.v1alpha1.ModelReference;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The ExpertPlacement revisions of one MoEModel: named {@code <model>-r<N>}, labelled with the
 * model, owned by it (deleted with it), the last {@link #KEPT} kept. The placement inside is the
 * solver's placement file, field for field, so conversion goes through {@link PlacementJson}: one
 * format, one reader with its checks.
 */
public final class PlacementRevisions {

  /** Revisions kept besides the current and the pinned one. */
  public static final int KEPT = 5;

  public static final String MODEL_LABEL = "moe.dev/model";

  private final KubernetesClient client;
  private final KubernetesSerialization json;

  public PlacementRevisions(KubernetesClient client) {
    this.client = client;
    this.json = client.getKubernetesSerialization();
  }

  public static String name(MoEModel model, long revision) {
    return model.getMetadata().getName() + "-r" + revision;
  }

  /** The model's revisions, oldest first. */
  public List<ExpertPlacement> list(MoEModel model) {
    return client.resources(ExpertPlacement.class).inNamespace(model.getMetadata().getNamespace())
        .withLabel(MODEL_LABEL, model.getMetadata().getName()).list().getItems().stream()
        .filter(p -> p.getSpec() != null && p.getSpec().getRevision() != null)
        .sorted(Comparator.comparing(p -> p.getSpec().getRevision()))
        .toList();
  }

  public static Optional<ExpertPlacement> find(List<ExpertPlacement> revisions, long revision) {
    return revisions.stream().filter(p -> p.getSpec().getRevision() == revision).findFirst();
  }

  /**
   * Creates revision {@code revision}; when it exists already (an earlier attempt created it, then
   * the operator stopped), returns that one: a revision is never written twice.
   */
  public ExpertPlacement create(MoEModel model, long revision, Placement placement) {
    ExpertPlacementSpec spec = toSpec(placement);
    ModelReference ref = new ModelReference();
    ref.setName(model.getMetadata().getName());
    spec.setModel(ref);
    spec.setRevision(revision);
    ExpertPlacement object = new ExpertPlacement();
    object.setMetadata(new ObjectMetaBuilder()
        .withName(name(model, revision))
        .withNamespace(model.getMetadata().getNamespace())
        .withLabels(Map.of(MODEL_LABEL, model.getMetadata().getName()))
        .withOwnerReferences(new OwnerReferenceBuilder()
            .withApiVersion(model.getApiVersion()).withKind(model.getKind())
            .withName(model.getMetadata().getName()).withUid(model.getMetadata().getUid())
            .withController(true).withBlockOwnerDeletion(true).build())
        .build());
    object.setSpec(spec);
    var resource = client.resource(object);
    ExpertPlacement existing = resource.get();
    return existing != null ? existing : resource.create();
  }

  /** Deletes all but the newest {@link #KEPT}, never one of {@code keep}. */
  public void prune(List<ExpertPlacement> revisions, long... keep) {
    int excess = revisions.size() - KEPT;
    for (ExpertPlacement p : revisions) {
      if (excess <= 0) {
        return;
      }
      long r = p.getSpec().getRevision();
      if (java.util.Arrays.stream(keep).noneMatch(k -> k == r)) {
        client.resource(p).delete();
        excess--;
      }
    }
  }

  /** The spec's placement fields, from the solver's placement JSON. */
  public ExpertPlacementSpec toSpec(Placement placement) {
    return json.unmarshal(PlacementJson.toJson(placement), ExpertPlacementSpec.class);
  }

  /** The placement of a revision, with every check of the placement reader. */
  public Placement toPlacement(ExpertPlacement revision, int experts) {
    String source = "ExpertPlacement " + revision.getMetadata().getNamespace() + "/" + revision.getMetadata().getName();
    return PlacementJson.parseEmbedded(json.asJson(revision.getSpec()).getBytes(StandardCharsets.UTF_8), source,
        experts, revision.getSpec().getSlotsPerGpu(), ExpertPlacementSpec.OTHER_FIELDS);
  }
}
