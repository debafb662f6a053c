package dev.moe.operator.placement;

/**
 * A revision's number was taken by another writer (another operator replica, or a stale one that
 * lost its lease) after this reconcile read the revisions: the reconcile starts again from what is
 * there now, so no number is used twice and no decision is made twice.
 */
public final class RevisionExistsException extends RuntimeException {

  public RevisionExistsException(String message) {
    super(message);
  }
}
