package dev.moe.runtime.tls;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A worker's TLS identity within its model: its certificate and key, and the model's CA, as the
 * operator issues them into the model's Secret (PEM; the key PKCS#8).
 *
 * <p>Trust is membership of the model: a peer is accepted when its certificate chains to the
 * model's CA, and to nothing else (not the JDK's default CAs). Host names are not checked: every
 * worker of a model holds the same certificate and peers are reached by pod address, so a name
 * check would add nothing to the chain check.
 *
 * <p>Read from files, the material is read again when they change (the kubelet swaps a renewed
 * Secret in), at most once a second: new connections present and check the renewed certificate,
 * open ones keep the one they were made with.
 */
public final class ModelTls {

  private static final Logger LOG = Logger.getLogger(ModelTls.class.getName());
  private static final String[] PROTOCOLS = {"TLSv1.3"};
  private static final long RECHECK_NANOS = 1_000_000_000L;

  /** One reading of the files: the key with its chain, and the CA's trust; the alias names the reading. */
  private record Material(String alias, PrivateKey key, X509Certificate[] chain, X509TrustManager trust) {}

  private final Supplier<Material> material;
  private final SSLContext context;
  private final SslContext nettyServer;
  private final SslContext nettyClient;

  private ModelTls(Supplier<Material> material) {
    this.material = material;
    try {
      context = SSLContext.getInstance("TLSv1.3");
      context.init(new javax.net.ssl.KeyManager[] {new CurrentKey()}, new javax.net.ssl.TrustManager[] {new ModelTrust()}, null);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make a TLS 1.3 context: " + e.getMessage(), e);
    }
    material.get();  // a mistake in the files shows at start, not at the first connection
    nettyServer = netty(false, ClientAuth.REQUIRE);
    nettyClient = netty(true, ClientAuth.NONE);
  }

  /** The certificate chain, key and CA from PEM files, re-read when they change. */
  public static ModelTls fromFiles(Path certificate, Path key, Path ca) {
    return new ModelTls(new Reloading(certificate, key, ca));
  }

  /** Fixed material from PEM text. */
  public static ModelTls fromPem(String certificate, String key, String ca) {
    Material m = parse(certificate, key, ca, "the given PEM", 0);
    return new ModelTls(() -> m);
  }

  /** A JDK context with this identity and trust (the HTTPS control API). */
  public SSLContext sslContext() {
    return context;
  }

  /** The transport's server side: TLS 1.3, the client must present a certificate of the model. */
  public SslContext nettyServer() {
    return nettyServer;
  }

  /** The transport's client side: presents this worker's certificate, accepts only the model's. */
  public SslContext nettyClient() {
    return nettyClient;
  }

  /**
   * BoringSSL (netty-tcnative) where its native library loads: the transport carries thousands of
   * small records per step, and the JDK's engine cost the demo a third of its throughput; the JDK's
   * otherwise. Both use the same key and trust managers, so renewal and the model's CA hold alike.
   */
  private SslContext netty(boolean client, ClientAuth auth) {
    if (!OpenSsl.isAvailable()) {
      return new JdkSslContext(context, client, null, IdentityCipherSuiteFilter.INSTANCE,
          ApplicationProtocolConfig.DISABLED, auth, PROTOCOLS, false);
    }
    SslContextBuilder builder = client ? SslContextBuilder.forClient().keyManager(new CurrentKey())
        : SslContextBuilder.forServer(new CurrentKey());
    try {
      return builder.sslProvider(SslProvider.OPENSSL).trustManager(new ModelTrust()).clientAuth(auth)
          .protocols(PROTOCOLS).build();
    } catch (SSLException e) {
      throw new IllegalStateException("BoringSSL could not make the transport's TLS context: " + e.getMessage(), e);
    }
  }

  /** Which TLS engine the transport uses: "BoringSSL" or "JDK". */
  public static String transportEngine() {
    return OpenSsl.isAvailable() ? "BoringSSL" : "JDK";
  }

  /**
   * HTTPS for a JDK HTTP server with this identity (the control API): TLS 1.3, no client
   * certificate asked (the bearer token authenticates the operator).
   */
  public HttpsConfigurator httpsConfigurator() {
    return new HttpsConfigurator(context) {
      @Override
      public void configure(HttpsParameters params) {
        SSLParameters p = context.getDefaultSSLParameters();
        p.setProtocols(PROTOCOLS);
        p.setNeedClientAuth(false);
        params.setSSLParameters(p);
      }
    };
  }

  private static final Pattern PRIVATE_KEY =
      Pattern.compile("-----BEGIN PRIVATE KEY-----(.*?)-----END PRIVATE KEY-----", Pattern.DOTALL);

  private static Material parse(String certificatePem, String keyPem, String caPem, String where, long generation) {
    try {
      CertificateFactory x509 = CertificateFactory.getInstance("X.509");
      X509Certificate[] chain = x509.generateCertificates(bytes(certificatePem)).toArray(new X509Certificate[0]);
      List<X509Certificate> cas = x509.generateCertificates(bytes(caPem)).stream().map(X509Certificate.class::cast)
          .toList();
      if (chain.length == 0 || cas.isEmpty()) {
        throw new IllegalArgumentException(where + ": no certificate " + (chain.length == 0 ? "in the certificate" : "in the CA"));
      }
      Matcher m = PRIVATE_KEY.matcher(keyPem);
      if (!m.find()) {
        throw new IllegalArgumentException(where + ": the key is not a PEM 'PRIVATE KEY' (PKCS#8)");
      }
      PrivateKey key = KeyFactory.getInstance(chain[0].getPublicKey().getAlgorithm())
          .generatePrivate(new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(m.group(1))));
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      for (int i = 0; i < cas.size(); i++) {
        trusted.setCertificateEntry("ca-" + i, cas.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(trusted);
      return new Material("model-" + generation, key, chain, (X509TrustManager) tmf.getTrustManagers()[0]);
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
  }

  private static ByteArrayInputStream bytes(String pem) {
    return new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads the files again when one of them changed (its resolved path, time or size). */
  private static final class Reloading implements Supplier<Material> {

    private final Path certificate;
    private final Path key;
    private final Path ca;
    private long generation;
    private String seen;
    /** The files' contents that {@code current} was parsed from. */
    private String read;
    private long checked;
    private Material current;

    Reloading(Path certificate, Path key, Path ca) {
      this.certificate = certificate;
      this.key = key;
      this.ca = ca;
    }

    @Override
    public synchronized Material get() {
      long now = System.nanoTime();
      if (current != null && now - checked < RECHECK_NANOS) {
        return current;
      }
      checked = now;
      String version = version();
      if (current != null && version.equals(seen)) {
        return current;
      }
      try {
        String[] pem = {Files.readString(certificate), Files.readString(key), Files.readString(ca)};
        String contents = String.join("\n", pem);
        // A Secret volume's periodic re-sync touches the files without changing them: nothing to do then.
        if (current == null || !contents.equals(read)) {
          Material fresh = parse(pem[0], pem[1], pem[2], "the TLS files " + certificate + ", " + key + ", " + ca,
              ++generation);
          if (current != null) {
            LOG.info("TLS certificate re-read from " + certificate + ": new connections use it");
          }
          current = fresh;
          read = contents;
        }
        seen = version;
      } catch (IOException | RuntimeException e) {
        if (current == null) {
          throw e instanceof IOException io ? new UncheckedIOException("cannot read " + certificate + ", " + key
              + " or " + ca + ": " + io.getMessage(), io) : (RuntimeException) e;
        }
        // Caught mid-swap, say: keep the material that works and look again at the next check.
        LOG.log(Level.WARNING, "cannot re-read the TLS files, keeping the current ones: " + e.getMessage());
      }
      return current;
    }

    private String version() {
      StringBuilder v = new StringBuilder();
      for (Path p : new Path[] {certificate, key, ca}) {
        try {
          v.append(p.toRealPath()).append('@').append(Files.getLastModifiedTime(p).toMillis()).append('+')
              .append(Files.size(p)).append(';');
        } catch (IOException e) {
          v.append(p).append(":missing;");
        }
      }
      return v.toString();
    }
  }

  /**
   * Presents the current certificate. The alias names the reading it came from, so that a
   * handshake gets its chain and key from the same reading even when the files change meanwhile.
   */
  private final class CurrentKey extends X509ExtendedKeyManager {

    /** The readings the last aliases were chosen from: a handshake may straddle a re-read. */
    private volatile Material latest;
    private volatile Material before;

    private String alias(String... keyTypes) {
      Material m = material.get();
      String algorithm = m.key().getAlgorithm();
      for (String type : keyTypes) {
        if (type.equals(algorithm) || type.startsWith(algorithm + "_") || (algorithm.equals("RSA") && type.equals("RSASSA-PSS"))) {
          remember(m);
          return m.alias();
        }
      }
      return null;
    }

    private synchronized void remember(Material m) {
      if (latest != m) {
        before = latest;
        latest = m;
      }
    }

    private Material byAlias(String alias) {
      for (Material m : new Material[] {latest, before}) {
        if (m != null && m.alias().equals(alias)) {
          return m;
        }
      }
      return null;
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      String a = alias(keyType);
      return a == null ? null : new String[] {a};
    }

    @Override
    public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
      return alias(keyTypes);
    }

    @Override
    public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
      return alias(keyTypes);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return getClientAliases(keyType, issuers);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      return alias(keyType);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
      return alias(keyType);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      Material m = byAlias(alias);
      return m == null ? null : m.chain().clone();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      Material m = byAlias(alias);
      return m == null ? null : m.key();
    }
  }

  /** Accepts a peer whose chain leads to the model's CA; no host name check (see the class comment). */
  private final class ModelTrust extends X509ExtendedTrustManager {

    private X509TrustManager trust() {
      return material.get().trust();
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      trust().checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      trust().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return trust().getAcceptedIssuers();
    }
  }
}
