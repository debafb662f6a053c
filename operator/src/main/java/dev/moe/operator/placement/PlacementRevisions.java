package dev.moe.operator.placement;

import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.ExpertPlacementSpec;
import dev.moe.crds.v1alpha1.ModelReference;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.placement.InvalidPlacementException;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The ExpertPlacement revisions of one MoEModel: named {@code <model>-r<N>}, labelled with the
 * model, owned by it (deleted with it), the last {@link #KEPT} kept. The placement inside is the
 * solver's placement file, field for field, so conversion goes through {@link PlacementJson}: one
 * format, one reader with its checks. Anyone may label an ExpertPlacement with the model: only
 * those the model controls, named and shaped as the operator writes them, are its revisions.
 */
public final class PlacementRevisions {

  /** Revisions kept besides the current and the pinned one. */
  public static final int KEPT = 5;

  public static final String MODEL_LABEL = "moe.dev/model";
  /**
   * On a rebalance's revision: the decision that made it, as JSON. The revision is made before the
   * status that records the decision is written, so a status write that is refused or never happens
   * (a conflict, a killed operator) loses no decision: the next reconcile records it from here.
   */
  public static final String DECISION_ANNOTATION = "moe.dev/decision";

  private final KubernetesClient client;
  private final KubernetesSerialization json;

  public PlacementRevisions(KubernetesClient client) {
    this.client = client;
    this.json = client.getKubernetesSerialization();
  }

  public static String name(MoEModel model, long revision) {
    return model.getMetadata().getName() + "-r" + revision;
  }

  /** The ExpertPlacements labelled with the model, split into its own valid revisions and the refused. */
  public ModelRevisions read(MoEModel model, int layers, int experts) {
    List<ExpertPlacement> own = new ArrayList<>();
    List<ModelRevisions.Refused> refused = new ArrayList<>();
    long highest = 0;
    for (ExpertPlacement p : client.resources(ExpertPlacement.class).inNamespace(model.getMetadata().getNamespace())
        .withLabel(MODEL_LABEL, model.getMetadata().getName()).list().getItems()) {
      if (p.getSpec() != null && p.getSpec().getRevision() != null) {
        highest = Math.max(highest, p.getSpec().getRevision());
      }
      String why = refusal(model, p, layers, experts);
      if (why == null) {
        own.add(p);
      } else {
        refused.add(new ModelRevisions.Refused(p.getMetadata().getName(), why));
      }
    }
    own.sort(Comparator.comparing(p -> p.getSpec().getRevision()));
    refused.sort(Comparator.comparing(ModelRevisions.Refused::name));
    return new ModelRevisions(List.copyOf(own), List.copyOf(refused), highest);
  }

  /** Why {@code p} is not one of the model's revisions; null when it is. */
  private String refusal(MoEModel model, ExpertPlacement p, int layers, int experts) {
    String name = model.getMetadata().getName();
    if (!controlledBy(p, model)) {
      return "not " + name + "'s: it has no controller reference to this MoEModel";
    }
    ExpertPlacementSpec spec = p.getSpec();
    if (spec == null || spec.getRevision() == null || spec.getModel() == null) {
      return "it has no spec.model or spec.revision";
    }
    if (!name.equals(spec.getModel().getName())) {
      return "its spec.model.name is " + spec.getModel().getName() + ", not " + name;
    }
    if (!name(model, spec.getRevision()).equals(p.getMetadata().getName())) {
      return "revision " + spec.getRevision() + " would be named " + name(model, spec.getRevision());
    }
    try {
      int found = toPlacement(p, experts).layers();
      return found == layers ? null : "it places " + found + " MoE layers, the model has " + layers;
    } catch (InvalidPlacementException e) {
      return e.getMessage();
    }
  }

  private static boolean controlledBy(ExpertPlacement p, MoEModel model) {
    return p.getMetadata().getOwnerReferences() != null && p.getMetadata().getOwnerReferences().stream()
        .anyMatch(o -> Boolean.TRUE.equals(o.getController()) && model.getMetadata().getUid().equals(o.getUid()));
  }

  public static Optional<ExpertPlacement> find(List<ExpertPlacement> revisions, long revision) {
    return revisions.stream().filter(p -> p.getSpec().getRevision() == revision).findFirst();
  }

  /**
   * Creates revision {@code revision}, which must not exist: when another writer made it since the
   * revisions were read, the reconcile must start again from there.
   *
   * @throws RevisionExistsException when the model's own revision of that number exists
   * @throws InvalidModelException when an ExpertPlacement that is not the model's has its name
   */
  public ExpertPlacement create(MoEModel model, long revision, Placement placement) {
    return create(model, revision, toSpec(placement), null);
  }

  /** Creates a rebalance's revision, carrying the decision that made it ({@link #DECISION_ANNOTATION}). */
  public ExpertPlacement create(MoEModel model, long revision, Placement placement, RebalanceDecision decision) {
    return create(model, revision, toSpec(placement), decision);
  }

  /**
   * Creates revision {@code revision} with the placement of {@code pinned}: a rollback, which the
   * workers take only as a version newer than the ones they have seen. Fails as {@link #create}.
   */
  public ExpertPlacement restore(MoEModel model, long revision, ExpertPlacement pinned) {
    ExpertPlacementSpec spec = json.clone(pinned.getSpec());
    spec.setRestores(pinned.getSpec().getRevision());
    return create(model, revision, spec, null);
  }

  /** The rebalance decision that made {@code revision}; empty for a revision made otherwise. */
  public Optional<RebalanceDecision> decision(ExpertPlacement revision) {
    var annotations = revision.getMetadata().getAnnotations();
    String decision = annotations == null ? null : annotations.get(DECISION_ANNOTATION);
    return Optional.ofNullable(decision).map(d -> json.unmarshal(d, RebalanceDecision.class));
  }

  private ExpertPlacement create(MoEModel model, long revision, ExpertPlacementSpec spec, RebalanceDecision decision) {
    ModelReference ref = new ModelReference();
    ref.setName(model.getMetadata().getName());
    spec.setModel(ref);
    spec.setRevision(revision);
    ExpertPlacement object = new ExpertPlacement();
    object.setMetadata(new ObjectMetaBuilder()
        .withName(name(model, revision))
        .withNamespace(model.getMetadata().getNamespace())
        .withLabels(Map.of(MODEL_LABEL, model.getMetadata().getName()))
        .withAnnotations(decision == null ? null : Map.of(DECISION_ANNOTATION, json.asJson(decision)))
        .withOwnerReferences(new OwnerReferenceBuilder()
            .withApiVersion(model.getApiVersion()).withKind(model.getKind())
            .withName(model.getMetadata().getName()).withUid(model.getMetadata().getUid())
            .withController(true).withBlockOwnerDeletion(true).build())
        .build());
    object.setSpec(spec);
    var resource = client.resource(object);
    try {
      // Create, never update: of two writers that chose the same number, one is refused here.
      return resource.create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
        throw e;
      }
    }
    ExpertPlacement existing = resource.get();
    if (existing != null && !controlledBy(existing, model)) {
      throw new InvalidModelException("ExpertPlacement " + object.getMetadata().getName() + " is in the way of "
          + model.getMetadata().getName() + "'s revision " + revision + " and is not its own: delete or rename it");
    }
    throw new RevisionExistsException("revision " + object.getMetadata().getName()
        + " was made by another writer since this reconcile read the revisions");
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
