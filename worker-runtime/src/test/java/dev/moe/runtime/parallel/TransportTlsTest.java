package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.Release;
import dev.moe.runtime.parallel.Message.StatusRequest;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.runtime.tls.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.nio.file.Files;
import java.util.logging.Logger;
import java.util.logging.LogRecord;
import java.util.logging.Handler;
import java.util.concurrent.CopyOnWriteArrayList;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS on the worker transport: real transports on loopback with certificates of a model's
 * CA, and clients that are not of the model. The server's handler counts every request that
 * reaches it: from a connection that is not the model's, none may.
 */
class TransportTlsTest {

  private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
  private static final TestCertificates MODEL = TestCertificates.authority("model-a");
  private static final TestCertificates OTHER = TestCertificates.authority("model-b");

  @TempDir Path dir;
  private EventLoopGroup group;
  private final AtomicInteger handled = new AtomicInteger();

  @BeforeEach
  void start() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private CompletableFuture<Message> count(Message m) {
    handled.incrementAndGet();
    return CompletableFuture.completedFuture(new Ack());
  }

  private NettyTransport worker(int rank, ModelTls tls) {
    return NettyTransport.listen(rank, 2, LOOPBACK, this::count, 1 << 20, tls);
  }

  @Test
  void linuxOnX86RunsTheTransportOnBoringSsl() {
    // The JDK's engine cost the demo a third of its throughput: the shipped jar must carry BoringSSL.
    Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux")
        && System.getProperty("os.arch").equals("amd64"), "BoringSSL is shipped for linux-x86_64 only");
    assertEquals("BoringSSL", ModelTls.transportEngine());
  }

  @Test
  void workersOfTheModelConnectAndServeEachOther() throws Exception {
    try (NettyTransport w0 = worker(0, MODEL.issue(dir.resolve("w0")));
        NettyTransport w1 = worker(1, MODEL.issue(dir.resolve("w1")))) {
      List<InetSocketAddress> addresses = List.of(w0.address(), w1.address());
      w0.peers(addresses);
      w1.peers(addresses);
      w0.connect(Duration.ofSeconds(10));
      w1.connect(Duration.ofSeconds(10));
      assertInstanceOf(Ack.class, w0.control(1, new Release(3), Ack.class).get(10, TimeUnit.SECONDS));
      assertInstanceOf(Ack.class, w1.control(0, new Release(3), Ack.class).get(10, TimeUnit.SECONDS));
      assertEquals(2, handled.get());
    }
  }

  @Test
  void aPeerWithAnotherCasCertificateIsRefusedAndNothingItSendsIsHandled() {
    try (NettyTransport server = worker(0, MODEL.issue(dir.resolve("w0")))) {
      // It trusts the model's CA, so only the server's check of its certificate can stop it.
      ModelTls rogue = OTHER.issue(dir.resolve("rogue"), MODEL);
      assertRefused(() -> FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(2), rogue));
      assertEquals(0, handled.get());
    }
  }

  @Test
  void aPlainTcpClientIsRefusedAndNothingItSendsIsHandled() {
    try (NettyTransport server = worker(0, MODEL.issue(dir.resolve("w0")))) {
      // Well-formed frames in the clear: the TLS layer reads them as a broken record and closes.
      assertRefused(() -> FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(2), null));
      assertEquals(0, handled.get());
    }
  }

  @Test
  void aTlsClientWithoutACertificateIsRefusedAndNothingItSendsIsHandled() throws Exception {
    try (NettyTransport server = worker(0, MODEL.issue(dir.resolve("w0")))) {
      // The model's trust, no key: the server's certificate is accepted, it must refuse ours.
      TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setCertificateEntry("ca", MODEL.certificate());
      trust.init(store);
      SSLContext noCertificate = SSLContext.getInstance("TLSv1.3");
      noCertificate.init(null, trust.getTrustManagers(), null);
      try (SSLSocket socket = (SSLSocket) noCertificate.getSocketFactory().createSocket("127.0.0.1",
          server.address().getPort())) {
        socket.setSoTimeout(5_000);
        ByteBuf frame = Unpooled.buffer();
        MessageCodec.writeFrame(1, new StatusRequest(), frame);
        byte[] bytes = new byte[frame.readableBytes()];
        frame.readBytes(bytes);
        assertThrows(IOException.class, () -> {
          OutputStream out = socket.getOutputStream();
          out.write(bytes);
          out.flush();
          InputStream in = socket.getInputStream();
          if (in.read() < 0) {
            throw new IOException("closed by the server");
          }
        });
      }
      assertEquals(0, handled.get());
    }
  }

  /**
   * A renewed certificate is presented on new connections; files only touched (a Secret volume's
   * re-sync) are not read as a new certificate.
   */
  @Test
  void aRenewedCertificateIsPresentedOnNewConnections() throws Exception {
    Path files = dir.resolve("w0");
    List<String> rereads = new CopyOnWriteArrayList<>();
    Handler watch = new Handler() {
      @Override
      public void publish(LogRecord r) {
        if (r.getMessage().contains("re-read")) {
          rereads.add(r.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Logger tlsLog = Logger.getLogger(ModelTls.class.getName());
    tlsLog.addHandler(watch);
    try (NettyTransport server = worker(0, MODEL.issue(files))) {
      ModelTls client = MODEL.issue(dir.resolve("client"));
      BigInteger first = presented(server, client);
      try (var touched = Files.list(files)) {
        for (Path f : touched.toList()) {
          Files.setLastModifiedTime(f, FileTime.from(Instant.now().plusSeconds(5)));
        }
      }
      Thread.sleep(1_100);  // the files are looked at again at most once a second
      assertEquals(first, presented(server, client));
      assertEquals(List.of(), rereads, "touched files taken for a new certificate");
      BigInteger renewed = MODEL.write(files, MODEL, Instant.now().minusSeconds(10), Duration.ofDays(2));
      Thread.sleep(1_100);
      assertEquals(renewed, presented(server, client));
      assertNotEquals(first, renewed);
      assertEquals(1, rereads.size(), rereads.toString());
    } finally {
      tlsLog.removeHandler(watch);
    }
  }

  /** The serial number of the certificate the server presents to a client of the model. */
  private static BigInteger presented(NettyTransport server, ModelTls client) throws IOException {
    try (SSLSocket socket = (SSLSocket) client.sslContext().getSocketFactory().createSocket("127.0.0.1",
        server.address().getPort())) {
      socket.startHandshake();
      return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  /** Connecting fails, or the connection closes without an answer to a request. */
  private static void assertRefused(Supplier<FrameClient> connect) {
    FrameClient client;
    try {
      client = connect.get();
    } catch (RemoteException refused) {
      return;
    }
    try (client) {
      var e = assertThrows(ExecutionException.class,
          () -> client.call(new StatusRequest()).get(10, TimeUnit.SECONDS));
      assertInstanceOf(RemoteException.class, e.getCause());
    }
  }
}
