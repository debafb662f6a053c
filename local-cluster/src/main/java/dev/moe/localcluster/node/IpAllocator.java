package dev.moe.localcluster.node;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Pod IPs from 127.10.0.0/16. On Linux all of 127.0.0.0/8 is the loopback interface, so every pod
 * gets an address of its own (and can listen on any port) with no network setup. Addresses are
 * handed out round-robin, so a released one is not reused before the others: a peer still holding
 * the old pod's address does not reach a new pod by mistake.
 */
final class IpAllocator {

  private static final int FIRST = 1;
  private static final int LAST = 0xFFFE;

  private final Set<String> inUse = new HashSet<>();
  private int next = FIRST;

  /** @param takenElsewhere addresses held by pods this allocator did not hand out (e.g. before a node restart) */
  synchronized String allocate(Predicate<String> takenElsewhere) {
    for (int tries = FIRST; tries <= LAST; tries++) {
      int n = next;
      next = n == LAST ? FIRST : n + 1;
      String ip = "127.10." + (n >> 8) + "." + (n & 0xFF);
      if ((n & 0xFF) != 0 && (n & 0xFF) != 0xFF && !inUse.contains(ip) && !takenElsewhere.test(ip)) {
        inUse.add(ip);
        return ip;
      }
    }
    throw new IllegalStateException("no free pod IP left in 127.10.0.0/16");
  }

  synchronized void release(String ip) {
    inUse.remove(ip);
  }
}
