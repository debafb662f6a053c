package dev.moe.runtime.rebalance;

import dev.moe.runtime.nativelib.ExpertBank;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;

/**
 * The placement versions a worker holds, and when each may be freed.
 *
 * <p>Two-phase switch: a version is staged (see {@link Stager}) while the served one keeps
 * serving; it becomes the served ("active") version when the first request carrying it arrives,
 * which the coordinator sends only once every worker has it staged. A version stays held while
 * any request using it is in flight, and is freed once the coordinator has retired it (no step of
 * it is in flight anywhere) and its last local user is done. Banks shared with a version still
 * held survive.
 */
public final class SlotVersions {

  /** How many refused versions' reasons are kept for the status. */
  private static final int REFUSED_KEPT = 16;

  private final Executor compute;
  private final LongConsumer onActivate;
  private final Map<Long, PlacementVersion> held = new TreeMap<>();
  private final Map<Long, String> refused = new LinkedHashMap<>();
  private long active;
  private long highest;
  private long staging = -1;
  private long cancelled = -1;

  /**
   * @param compute where banks are freed: the backend's thread, after work queued on them
   * @param onActivate told each version that becomes active after the first
   */
  public SlotVersions(Executor compute, LongConsumer onActivate) {
    this.compute = compute;
    this.onActivate = onActivate;
  }

  /** Installs the first version, active at once. */
  public synchronized void installFirst(PlacementVersion version) {
    if (!held.isEmpty()) {
      throw new IllegalStateException("a first version is already installed");
    }
    held.put(version.version(), version);
    active = version.version();
    highest = active;
  }

  public synchronized long active() {
    return active;
  }

  /**
   * Reserves {@code version} for staging and returns the active version to stage from, acquired:
   * the caller must {@link #release} it when staging ends.
   *
   * @throws IllegalArgumentException the version is not newer than every version seen
   * @throws IllegalStateException another version is being staged
   */
  /** Whether {@code version} is being staged or held (staged or serving). */
  public synchronized boolean has(long version) {
    return version == staging || held.containsKey(version);
  }

  public synchronized PlacementVersion beginStaging(long version) {
    if (staging >= 0) {
      throw new IllegalStateException("placement version " + staging + " is still being staged; stage " + version
          + " after it is ready or refused");
    }
    if (version <= highest) {
      throw new IllegalArgumentException("placement version " + version + " is not newer than version " + highest
          + ", the newest this worker has seen");
    }
    staging = version;
    highest = version;
    PlacementVersion from = held.get(active);
    from.users++;
    return from;
  }

  /**
   * The staged version is ready to serve; false when it was released while being staged (another
   * worker refused it), in which case it is freed instead.
   */
  public synchronized boolean staged(PlacementVersion version) {
    if (version.version() != staging) {
      throw new IllegalStateException("version " + version.version() + " was not being staged");
    }
    staging = -1;
    held.put(version.version(), version);
    if (version.version() == cancelled) {
      version.retired = true;
      freeIfDone(version);
      return false;
    }
    return true;
  }

  /** The version being staged was refused; {@code reason} is kept for the status. */
  public synchronized void refused(long version, String reason) {
    if (version == staging) {
      staging = -1;
    }
    refused.put(version, reason);
    if (refused.size() > REFUSED_KEPT) {
      refused.remove(refused.keySet().iterator().next());
    }
  }

  /**
   * Takes {@code version} for one request, making it active if it is newer than the active one.
   *
   * @throws UnknownVersionException it is not held (never staged, refused, or freed)
   */
  public synchronized PlacementVersion acquire(long version) {
    PlacementVersion v = held.get(version);
    if (v == null || v.retired) {
      String why = refused.containsKey(version) ? "it was refused: " + refused.get(version)
          : version == staging ? "it is still being staged"
          : v != null ? "it was released" : "it was never staged here";
      throw new UnknownVersionException("placement version " + version + " is not served by this worker (" + why
          + "); held: " + held.keySet() + ", active " + active);
    }
    if (version > active) {
      active = version;
      onActivate.accept(version);
    }
    v.users++;
    return v;
  }

  /** A request that acquired {@code version} is done with it. */
  public synchronized void release(PlacementVersion version) {
    version.users--;
    freeIfDone(version);
  }

  /**
   * No step of {@code version} is in flight anywhere any more: free it after its local users. A
   * version still being staged is dropped when its staging ends. When it is the active version,
   * the coordinator has moved on to a newer one whose first step has not arrived yet: that one
   * becomes active now.
   *
   * @throws IllegalArgumentException it is the active version and no newer one is staged
   * @throws UnknownVersionException it is not held
   */
  public synchronized void retire(long version) {
    if (version == staging) {
      cancelled = version;
      return;
    }
    PlacementVersion v = held.get(version);
    if (v == null) {
      throw new UnknownVersionException("placement version " + version + " is not held by this worker; held: "
          + held.keySet());
    }
    if (version == active) {
      long next = held.values().stream().filter(h -> h.version() > version && !h.retired)
          .mapToLong(PlacementVersion::version).min().orElse(-1);
      if (next < 0) {
        throw new IllegalArgumentException("placement version " + version
            + " is the active one and no newer version is staged: it cannot be released");
      }
      active = next;
      onActivate.accept(next);
    }
    v.retired = true;
    freeIfDone(v);
  }

  /** Versions ready to serve (the active one included). */
  public synchronized long[] servable() {
    return held.values().stream().filter(v -> !v.retired).mapToLong(PlacementVersion::version).toArray();
  }

  /** The versions' states: {@code {"active": N, "staging": N|null, "held": [...], "refused": {"N": "why"}}}. */
  public synchronized String statusJson() {
    StringBuilder json = new StringBuilder("{\"active\": ").append(active).append(", \"staging\": ")
        .append(staging >= 0 ? Long.toString(staging) : "null").append(", \"held\": ")
        .append(held.keySet()).append(", \"refused\": {");
    boolean first = true;
    for (Map.Entry<Long, String> e : refused.entrySet()) {
      json.append(first ? "" : ", ").append('"').append(e.getKey()).append("\": ").append(quote(e.getValue()));
      first = false;
    }
    return json.append("}}\n").toString();
  }

  /** Frees every version; for shutdown, when no request runs any more. */
  public synchronized void closeAll() {
    Set<ExpertBank> banks = Collections.newSetFromMap(new IdentityHashMap<>());
    for (PlacementVersion v : held.values()) {
      for (ExpertBank b : v.banks()) {
        if (b != null) {
          banks.add(b);
        }
      }
    }
    held.clear();
    for (ExpertBank b : banks) {
      compute.execute(b::close);
    }
  }

  private void freeIfDone(PlacementVersion v) {
    if (!v.retired || v.users > 0 || held.get(v.version()) != v) {
      return;
    }
    held.remove(v.version());
    Set<ExpertBank> stillUsed = Collections.newSetFromMap(new IdentityHashMap<>());
    for (PlacementVersion other : held.values()) {
      for (ExpertBank b : other.banks()) {
        stillUsed.add(b);
      }
    }
    List<ExpertBank> free = new ArrayList<>();
    for (ExpertBank b : v.banks()) {
      if (b != null && !stillUsed.contains(b)) {
        free.add(b);
      }
    }
    for (ExpertBank b : free) {
      compute.execute(b::close);
    }
  }

  private static String quote(String s) {
    StringBuilder q = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> q.append("\\\"");
        case '\\' -> q.append("\\\\");
        case '\n' -> q.append("\\n");
        default -> {
          if (c < 0x20) {
            q.append(String.format("\\u%04x", (int) c));
          } else {
            q.append(c);
          }
        }
      }
    }
    return q.append('"').toString();
  }
}
