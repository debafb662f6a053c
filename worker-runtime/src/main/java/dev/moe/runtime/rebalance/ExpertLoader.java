package dev.moe.runtime.rebalance;

import dev.moe.runtime.model.ExpertWeights;

/** Reads one expert's weights from where the model is stored (the checkpoint). */
@FunctionalInterface
public interface ExpertLoader {

  ExpertWeights load(int layer, int expert);
}
