package dev.moe.operator.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.moe.operator.cluster.ControlPlane;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A manifest a test edits by dotted path before handing it to kubectl, so that each case says only
 * what it changes. Editing the parsed document (rather than the text) makes a typo'd path fail
 * the test instead of silently testing the unchanged, valid manifest.
 */
final class Manifest {

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER));

  private final Map<String, Object> root;

  private Manifest(Map<String, Object> root) {
    this.root = root;
  }

  static Manifest of(String yaml) {
    try {
      return new Manifest(YAML.readValue(yaml, new TypeReference<LinkedHashMap<String, Object>>() {}));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** crds/examples/moemodel-small.yaml (the documented, valid example) as {@code namespace/name}. */
  static Manifest example(String namespace, String name) {
    try {
      return of(Files.readString(ControlPlane.repoRoot().resolve("crds/examples/moemodel-small.yaml")))
          .set("metadata.namespace", namespace)
          .set("metadata.name", name);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sets the value at {@code path}, creating the objects on the way. */
  Manifest set(String path, Object value) {
    String[] keys = path.split("\\.");
    parent(keys, true).put(keys[keys.length - 1], value);
    return this;
  }

  /** Removes the value at {@code path}, which must be there. */
  Manifest remove(String path) {
    String[] keys = path.split("\\.");
    if (parent(keys, false).remove(keys[keys.length - 1]) == null) {
      throw new IllegalArgumentException("nothing at " + path + " to remove");
    }
    return this;
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> parent(String[] keys, boolean create) {
    Map<String, Object> map = root;
    for (int i = 0; i < keys.length - 1; i++) {
      Object next = map.get(keys[i]);
      if (next == null && create) {
        next = new LinkedHashMap<String, Object>();
        map.put(keys[i], next);
      }
      if (!(next instanceof Map)) {
        throw new IllegalArgumentException("no object at " + String.join(".", Arrays.copyOf(keys, i + 1)));
      }
      map = (Map<String, Object>) next;
    }
    return map;
  }

  String yaml() {
    try {
      return YAML.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return yaml();
  }
}
