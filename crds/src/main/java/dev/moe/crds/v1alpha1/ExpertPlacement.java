package dev.moe.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * One placement revision of a {@link MoEModel}: which expert each GPU slot holds, written by the
 * operator (which owns it through an owner reference to the model) in the shared placement format
 * of placement-solver's {@code PlacementJson}. {@code kubectl get expertplacements} shows the
 * history; the operator keeps the last few.
 */
@Group(MoEModel.GROUP)
@Version(MoEModel.VERSION)
@Kind("ExpertPlacement")
@Singular("expertplacement")
@Plural("expertplacements")
@AdditionalPrinterColumn(name = "Model", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".spec.model.name")
@AdditionalPrinterColumn(name = "Revision", type = AdditionalPrinterColumn.Type.INTEGER, jsonPath = ".spec.revision")
@AdditionalPrinterColumn(name = "Balancedness", type = AdditionalPrinterColumn.Type.NUMBER,
    jsonPath = ".spec.report.balancedness", getDescription = "Predicted balancedness (mean / max GPU load)")
@AdditionalPrinterColumn(name = "Moved", type = AdditionalPrinterColumn.Type.INTEGER,
    jsonPath = ".spec.report.replicas_moved", getDescription = "Replicas moved from the previous revision")
@AdditionalPrinterColumn(name = "Restores", type = AdditionalPrinterColumn.Type.INTEGER, priority = 1,
    jsonPath = ".spec.restores", getDescription = "The revision a rollback serves again")
@AdditionalPrinterColumn(name = "Age", type = AdditionalPrinterColumn.Type.DATE,
    jsonPath = ".metadata.creationTimestamp")
public class ExpertPlacement extends CustomResource<ExpertPlacementSpec, Void> implements Namespaced {

  public ExpertPlacement() {}
}
