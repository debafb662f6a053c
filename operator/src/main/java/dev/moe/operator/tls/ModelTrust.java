package dev.moe.operator.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * How the operator trusts a model's workers: a TLS context that accepts a server whose chain
 * leads to the model's CA, and nothing else (not the JDK's CAs, not another model's CA). Host names
 * are not checked: workers are reached by pod IP, which no certificate issued before the pod names.
 */
public final class ModelTrust {

  private ModelTrust() {}

  /** A client context trusting {@code caCertificate} (PEM) alone. */
  public static SSLContext of(String caCertificate) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setCertificateEntry("model-ca", ModelCertificates.certificate(caCertificate));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(store);
      SSLContext context = SSLContext.getInstance("TLSv1.3");
      context.init(null, new javax.net.ssl.TrustManager[] {new ChainOnly((X509TrustManager) tmf.getTrustManagers()[0])},
          null);
      return context;
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot make a TLS context for the model's CA: " + e.getMessage(), e);
    }
  }

  /**
   * The PKIX chain check of {@code trust}, without the host name check the HTTP client asks for
   * (an {@link X509ExtendedTrustManager}: the JDK would wrap a plain one in a name check).
   */
  private static final class ChainOnly extends X509ExtendedTrustManager {

    private final X509TrustManager trust;

    ChainOnly(X509TrustManager trust) {
      this.trust = trust;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      trust.checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      trust.checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      trust.checkServerTrusted(chain, authType);
    }

    /** The operator is a client only. */
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      throw new CertificateException("the operator accepts no TLS clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return trust.getAcceptedIssuers();
    }
  }
}
