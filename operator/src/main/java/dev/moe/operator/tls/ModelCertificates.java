package dev.moe.operator.tls;

import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A model's CA and its workers' certificate, as PEM text (keys PKCS#8, EC P-256), and when the
 * certificate is renewed. The CA is the model's own: trust between workers is membership of the
 * model. Every worker holds the same certificate; its names are the headless Service's pod names
 * ({@code *.<service>.<namespace>.svc}), though workers and the operator check the chain, not the
 * name, because peers are reached by pod address.
 */
public final class ModelCertificates {

  public static final Duration CA_LIFETIME = Duration.ofDays(3650);
  public static final Duration WORKER_LIFETIME = Duration.ofDays(90);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** The CA's certificate and key, and the workers' certificate and key. */
  public record Material(String caCertificate, String caKey, String certificate, String key) {}

  private ModelCertificates() {}

  /**
   * What the model's Secret should hold at {@code now}: {@code existing} while its certificate is
   * the CA's and has at least a third of its lifetime left; else a new worker certificate of the
   * same CA; a new CA only when there is none or it cannot sign any more.
   */
  public static Material desired(Optional<Material> existing, String model, String service, String namespace,
      Instant now) {
    Optional<Material> withCa = existing.filter(m -> caUsable(m, now));
    if (withCa.isEmpty()) {
      KeyPair ca = newKey();
      X509Certificate caCertificate = sign(new X500Name("CN=" + model + " CA, O=moe-operator"), ca, ca.getPrivate(), null,
          now, CA_LIFETIME, true, List.of());
      String caPem = pem("CERTIFICATE", encoded(caCertificate));
      return worker(caPem, pem("PRIVATE KEY", ca.getPrivate().getEncoded()), model, service, namespace, now,
          WORKER_LIFETIME);
    }
    Material m = withCa.get();
    return renewalDue(m, now) ? worker(m.caCertificate(), m.caKey(), model, service, namespace, now, WORKER_LIFETIME) : m;
  }

  /** A new worker certificate of the CA {@code caCertificate}/{@code caKey}, valid from {@code notBefore}. */
  public static Material worker(String caCertificate, String caKey, String model, String service, String namespace,
      Instant notBefore, Duration lifetime) {
    X509Certificate ca = certificate(caCertificate);
    KeyPair worker = newKey();
    String domain = service + "." + namespace + ".svc";
    X509Certificate leaf = sign(new X500Name("CN=" + model + " worker, O=moe-operator"), worker, privateKey(caKey),
        ca, notBefore, lifetime, false, List.of("*." + domain, "*." + domain + ".cluster.local"));
    return new Material(caCertificate, caKey, pem("CERTIFICATE", encoded(leaf)),
        pem("PRIVATE KEY", worker.getPrivate().getEncoded()));
  }

  /** Whether the worker certificate has under a third of its lifetime left, or is not the CA's. */
  static boolean renewalDue(Material m, Instant now) {
    try {
      X509Certificate leaf = certificate(m.certificate());
      leaf.verify(certificate(m.caCertificate()).getPublicKey());
      privateKey(m.key());
      Instant from = leaf.getNotBefore().toInstant();
      Instant to = leaf.getNotAfter().toInstant();
      return now.isAfter(to.minus(Duration.between(from, to).dividedBy(3)));
    } catch (GeneralSecurityException | RuntimeException e) {
      return true;
    }
  }

  /** The CA parses, its key is readable, and it outlives a worker certificate issued now. */
  private static boolean caUsable(Material m, Instant now) {
    try {
      X509Certificate ca = certificate(m.caCertificate());
      privateKey(m.caKey());
      return ca.getNotAfter().toInstant().isAfter(now.plus(WORKER_LIFETIME));
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The first certificate of a PEM text. */
  public static X509Certificate certificate(String pem) {
    try {
      return (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not a PEM certificate: " + e.getMessage(), e);
    }
  }

  private static PrivateKey privateKey(String pem) {
    String body = pem.replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "").replaceAll("\\s", "");
    try {
      return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not a PKCS#8 EC key: " + e.getMessage(), e);
    }
  }

  private static KeyPair newKey() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(256, RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make EC P-256 keys", e);
    }
  }

  /** A certificate for {@code subject}'s key, signed by {@code signer} (the issuer {@code issuer}; null: self-signed). */
  private static X509Certificate sign(X500Name subject, KeyPair subjectKey, PrivateKey signer, X509Certificate issuer,
      Instant notBefore, Duration lifetime, boolean ca, List<String> dnsNames) {
    X500Name issuerName = issuer == null ? subject : X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
    // Back-dated a little: clocks of the operator and the workers' nodes may differ.
    Instant from = notBefore.minus(Duration.ofMinutes(5));
    try {
      var builder = new JcaX509v3CertificateBuilder(issuerName, new BigInteger(127, RANDOM), Date.from(from),
          Date.from(notBefore.plus(lifetime)), subject, subjectKey.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
      if (!ca) {
        // Both ends of a worker connection present it: server and client.
        builder.addExtension(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(dnsNames.stream()
            .map(n -> new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new)));
      }
      return new JcaX509CertificateConverter().getCertificate(
          builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
    } catch (Exception e) {
      throw new IllegalStateException("cannot sign a certificate for " + subject + ": " + e.getMessage(), e);
    }
  }

  private static byte[] encoded(X509Certificate c) {
    try {
      return c.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String pem(String type, byte[] der) {
    StringWriter out = new StringWriter();
    out.write("-----BEGIN " + type + "-----\n");
    out.write(Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der));
    out.write("\n-----END " + type + "-----\n");
    return out.toString();
  }
}
