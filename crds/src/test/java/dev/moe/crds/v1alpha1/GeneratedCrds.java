package dev.moe.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.crdv2.generator.CRDPostProcessor;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Generates the CRD YAML from the Java types, as committed in {@code crds/generated/}. */
final class GeneratedCrds {

  /** The command that rewrites {@code crds/generated/} from the Java types. */
  static final String UPDATE_COMMAND = "./mvnw -B -pl crds -am verify -Dcrds.update=true";

  static final List<String> FILES = List.of("moemodels.moe.dev-v1.yml", "expertplacements.moe.dev-v1.yml");

  private static final Map<String, Class<? extends HasMetadata>> RESOURCES =
      Map.of("MoEModel", MoEModel.class, "ExpertPlacement", ExpertPlacement.class);

  /** A plain scalar that YAML 1.1 reads as a boolean and YAML 1.2 as a string (see {@link #quoteYaml11Booleans}). */
  private static final Pattern YAML11_BOOLEAN = Pattern.compile(
      "(?m)^(\\s*(?:- |[\\w.-]+: ))(y|Y|n|N|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$");

  private static Path generatedDir;

  private GeneratedCrds() {}

  /** The module's directory: Maven's basedir, else the working directory. */
  static Path moduleDir() {
    String dir = System.getProperty("crds.dir");
    return dir == null || dir.isBlank() ? Path.of("").toAbsolutePath() : Path.of(dir);
  }

  /** The committed YAML. */
  static Path committedDir() {
    return moduleDir().resolve("generated");
  }

  /** Generates into {@code target/generated-crds/} (once per test JVM) and returns that folder. */
  static synchronized Path generate() {
    if (generatedDir == null) {
      Path dir = moduleDir().resolve("target").resolve("generated-crds");
      try {
        Files.createDirectories(dir);
        for (String file : FILES) {
          Files.deleteIfExists(dir.resolve(file));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      new CRDGenerator()
          .inOutputDir(dir.toFile())
          .forCRDVersions("v1")
          .withParallelGenerationEnabled(false)
          .withMinQuotes(true)
          .withPostProcessor(new CRDPostProcessor() {
            @Override
            public HasMetadata process(HasMetadata crd, String crdVersion) {
              return printerColumnsInDeclaredOrder(crd);
            }
          })
          .customResourceClasses(List.copyOf(RESOURCES.values()))
          .generate();
      for (String file : FILES) {
        quoteYaml11Booleans(dir.resolve(file));
      }
      generatedDir = dir;
    }
    return generatedDir;
  }

  /**
   * The generator's minimal quoting follows YAML 1.2, where {@code Off} is a string; kubectl, Helm
   * and Argo CD read YAML 1.1, where an unquoted {@code Off} (also y/n, yes/no, on) is the boolean
   * false, which would turn the enum value "Off" into "false". Quoted, both read a string.
   */
  private static void quoteYaml11Booleans(Path file) {
    try {
      Files.writeString(file, YAML11_BOOLEAN.matcher(Files.readString(file)).replaceAll("$1\"$2\""));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The generator sorts printer columns by name; kubectl shows them in the CRD's order, so put
   * them back in the order of the {@link AdditionalPrinterColumn} annotations on the class.
   */
  private static HasMetadata printerColumnsInDeclaredOrder(HasMetadata crd) {
    if (crd instanceof CustomResourceDefinition definition) {
      Class<?> type = RESOURCES.get(definition.getSpec().getNames().getKind());
      List<String> order = Arrays.stream(type.getAnnotationsByType(AdditionalPrinterColumn.class))
          .map(AdditionalPrinterColumn::name)
          .toList();
      for (CustomResourceDefinitionVersion version : definition.getSpec().getVersions()) {
        List<CustomResourceColumnDefinition> columns = version.getAdditionalPrinterColumns();
        if (columns != null) {
          columns.sort(Comparator.comparingInt(c -> order.indexOf(c.getName())));
        }
      }
    }
    return crd;
  }

  static CustomResourceDefinition load(String file) {
    try (InputStream in = Files.newInputStream(generate().resolve(file))) {
      return Serialization.unmarshal(in, CustomResourceDefinition.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
