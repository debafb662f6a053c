package dev.moe.operator.serving;

import dev.moe.crds.v1alpha1.MoEModel;
import java.util.Map;
import java.util.Set;

/**
 * Whether a model's workers answer their OpenAI-compatible API, which is what the model's Service
 * sends its clients to: a worker whose pod is ready may still be unable to serve requests.
 */
public interface ApiProbe {

  /** Those of {@code workers} (StatefulSet ordinals) that do not answer, each with why; empty when all do. */
  Map<Integer, String> unanswered(MoEModel model, Set<Integer> workers);
}
