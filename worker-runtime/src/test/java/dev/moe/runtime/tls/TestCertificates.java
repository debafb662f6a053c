package dev.moe.runtime.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates for tests: a CA and the worker certificates it signs, written as the operator's
 * Secret holds them (PEM files {@code tls.crt}, {@code tls.key}, {@code ca.crt}).
 */
public final class TestCertificates {

  private final String name;
  private final KeyPair key;
  private final X509Certificate certificate;

  private TestCertificates(String name, KeyPair key, X509Certificate certificate) {
    this.name = name;
    this.key = key;
    this.certificate = certificate;
  }

  /** A new CA named {@code name}. */
  public static TestCertificates authority(String name) {
    KeyPair key = ecKey();
    return new TestCertificates(name, key, sign(name, key, name, key, true, Instant.now(), Duration.ofDays(365)));
  }

  /**
   * Writes a worker certificate of this CA, valid from {@code notBefore} for {@code lifetime}, into
   * {@code dir}, with {@code trusted}'s CA certificate as {@code ca.crt}; returns its serial number.
   */
  public BigInteger write(Path dir, TestCertificates trusted, Instant notBefore, Duration lifetime) {
    KeyPair worker = ecKey();
    X509Certificate leaf = sign(name + " worker", worker, name, key, false, notBefore, lifetime);
    write(dir.resolve("tls.crt"), pem(leaf));
    write(dir.resolve("tls.key"), pem(worker.getPrivate()));
    write(dir.resolve("ca.crt"), trusted.pem());
    return leaf.getSerialNumber();
  }

  /** A worker identity of this CA, trusting {@code trusted}'s CA, read from files in {@code dir}. */
  public ModelTls issue(Path dir, TestCertificates trusted) {
    write(dir, trusted, Instant.now().minusSeconds(60), Duration.ofDays(1));
    return ModelTls.fromFiles(dir.resolve("tls.crt"), dir.resolve("tls.key"), dir.resolve("ca.crt"));
  }

  /** A worker identity of this CA, trusting this CA alone: a member of the model. */
  public ModelTls issue(Path dir) {
    return issue(dir, this);
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /** This CA's certificate, PEM. */
  public String pem() {
    return pem(certificate);
  }

  private static KeyPair ecKey() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(256);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static X509Certificate sign(String subject, KeyPair subjectKey, String issuer, KeyPair issuerKey, boolean ca,
      Instant notBefore, Duration lifetime) {
    try {
      var builder = new JcaX509v3CertificateBuilder(new X500Name("CN=" + issuer),
          BigInteger.valueOf(System.nanoTime()), Date.from(notBefore), Date.from(notBefore.plus(lifetime)),
          new X500Name("CN=" + subject), subjectKey.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
      if (!ca) {
        builder.addExtension(Extension.extendedKeyUsage, false,
            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      }
      return new JcaX509CertificateConverter().getCertificate(
          builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey.getPrivate())));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String pem(Object o) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      // A private key as PKCS#8 ("PRIVATE KEY"), as the operator writes it.
      w.writeObject(o instanceof java.security.PrivateKey k ? new org.bouncycastle.util.io.pem.PemObject("PRIVATE KEY",
          k.getEncoded()) : o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  private static void write(Path file, String text) {
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
