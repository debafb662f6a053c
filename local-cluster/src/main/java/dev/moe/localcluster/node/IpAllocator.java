package dev.moe.localcluster.node;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Addresses from a /16 of the loopback network: pod IPs from 127.10.0.0/16, Services' from
 * 127.11.0.0/16. On Linux all of 127.0.0.0/8 is the loopback interface, so every pod or Service
 * gets an address of its own (and can listen on any port) with no network setup. Addresses are
 * handed out round-robin, so a released one is not reused before the others: a peer still holding
 * the old pod's address does not reach a new pod by mistake.
 */
final class IpAllocator {

  static final String PODS = "127.10";
  static final String SERVICES = "127.11";

  private static final int FIRST = 1;
  private static final int LAST = 0xFFFE;

  private final String prefix;
  private final Set<String> inUse = new HashSet<>();
  private int next = FIRST;

  /** @param prefix the first two octets, e.g. {@link #PODS} */
  IpAllocator(String prefix) {
    this.prefix = prefix;
  }

  /** @param takenElsewhere addresses held by pods this allocator did not hand out (e.g. before a node restart) */
  synchronized String allocate(Predicate<String> takenElsewhere) {
    for (int tries = FIRST; tries <= LAST; tries++) {
      int n = next;
      next = n == LAST ? FIRST : n + 1;
      String ip = prefix + "." + (n >> 8) + "." + (n & 0xFF);
      if ((n & 0xFF) != 0 && (n & 0xFF) != 0xFF && !inUse.contains(ip) && !takenElsewhere.test(ip)) {
        inUse.add(ip);
        return ip;
      }
    }
    throw new IllegalStateException("no free address left in " + prefix + ".0.0/16");
  }

  synchronized void release(String ip) {
    inUse.remove(ip);
  }
}
