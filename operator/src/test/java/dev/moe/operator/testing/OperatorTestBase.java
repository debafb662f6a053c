package dev.moe.operator.testing;

import dev.moe.operator.cluster.ControlPlane;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fresh operator for each test on the shared control plane; the test's models are gone after it. */
public abstract class OperatorTestBase {

  protected KubernetesClient client;
  protected RunningOperator operator;

  @BeforeEach
  void startOperator() {
    client = ControlPlane.get().adminClient();
    operator = new RunningOperator(client);
  }

  @AfterEach
  void stopOperator() {
    RunningOperator.deleteAllModels(client);
    operator.close();
    client.close();
  }
}
