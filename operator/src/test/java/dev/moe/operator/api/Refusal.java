package dev.moe.operator.api;

import java.util.function.UnaryOperator;

/**
 * One invalid edit of a valid manifest, the field kubectl must name and the message it must print.
 * Its name is also the edited object's name, so no case meets another's object.
 */
record Refusal(String name, UnaryOperator<Manifest> edit, String field, String message) {

  /** Applies the edit of {@code valid} and asserts that kubectl refuses it, naming the field. */
  String assertRefused(Manifest valid) {
    return Apply.refused(edit.apply(valid), field + ": ", message);
  }

  @Override
  public String toString() {
    return name;
  }
}
