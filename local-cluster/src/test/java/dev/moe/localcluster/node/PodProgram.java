package dev.moe.localcluster.node;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.authentication.SelfSubjectReview;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeMap;

/** What the tests' pods run (image test.local/java): one small behaviour per subcommand. */
public final class PodProgram {

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      // serve HOST:PORT [DELAY_MS]: answers HTTP with the address it listens on, after the delay
      case "serve" -> {
        if (args.length > 2) {
          Thread.sleep(Long.parseLong(args[2]));
        }
        String[] hostPort = args[1].split(":");
        var address = new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1]));
        HttpServer server = HttpServer.create(address, 0);
        server.createContext("/", exchange -> {
          byte[] body = address.getAddress().getHostAddress().getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
        server.start();
        System.out.println("listening on " + args[1]);
      }
      // term MARKER: writes MARKER when SIGTERM arrives, and waits for it
      case "term" -> {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try {
            Files.writeString(Path.of(args[1]), "TERM");
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }));
        System.out.println("waiting for SIGTERM");
        Thread.sleep(Long.MAX_VALUE);
      }
      // print ARGS...: each arg, the content of files they name (whole or after '='), the environment
      case "print" -> {
        for (int i = 1; i < args.length; i++) {
          System.out.println("arg " + args[i]);
          Path file = Path.of(args[i].substring(args[i].indexOf('=') + 1));
          if (Files.isRegularFile(file)) {
            System.out.println("file " + file + " = " + Files.readString(file).strip());
          }
        }
        new TreeMap<>(System.getenv()).forEach((k, v) -> System.out.println("env " + k + "=" + v));
      }
      // resolve NAME,NAME... TIMEOUT_MS: until every name resolves, or exit 1
      case "resolve" -> {
        long deadline = System.currentTimeMillis() + Long.parseLong(args[2]);
        for (String name : args[1].split(",")) {
          while (true) {
            try {
              System.out.println("resolved " + name + " to " + InetAddress.getByName(name).getHostAddress());
              break;
            } catch (UnknownHostException e) {
              System.out.println("not yet " + name);
              if (System.currentTimeMillis() > deadline) {
                System.exit(1);
              }
              Thread.sleep(200);
            }
          }
        }
      }
      // whoami: the user that $KUBECONFIG authenticates as
      case "whoami" -> {
        try (KubernetesClient client = new KubernetesClientBuilder().build()) {
          SelfSubjectReview review = client.authentication().v1().selfSubjectReviews().create(new SelfSubjectReview());
          System.out.println("user " + review.getStatus().getUserInfo().getUsername());
        }
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
  }
}
