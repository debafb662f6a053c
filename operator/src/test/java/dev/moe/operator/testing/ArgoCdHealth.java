package dev.moe.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.operator.cluster.ControlPlane;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;
import org.luaj.vm2.Globals;
import org.luaj.vm2.LuaTable;
import org.luaj.vm2.LuaValue;
import org.luaj.vm2.lib.jse.JsePlatform;

/**
 * The chart's Argo CD health check (charts/moe-operator/docs/argocd-health.lua) run on a MoEModel
 * as Argo CD runs it: the object's JSON as nested Lua tables (objects keyed by field name, arrays
 * from 1, numbers as Lua numbers) in the global {@code obj}, the returned table read back.
 */
public final class ArgoCdHealth {

  public record Health(String status, String message) {}

  private static final String SCRIPT = "charts/moe-operator/docs/argocd-health.lua";
  private static final ObjectMapper JSON = new ObjectMapper();

  private ArgoCdHealth() {}

  /** The health of the live object, read from the API server. */
  public static Health of(KubernetesClient client, String ns, String name) {
    return of(live(client, ns, name));
  }

  /** The live object as JSON, for a test to vary what the operator wrote. */
  public static ObjectNode live(KubernetesClient client, String ns, String name) {
    var object = client.genericKubernetesResources("moe.dev/v1alpha1", "MoEModel").inNamespace(ns).withName(name).get();
    try {
      return (ObjectNode) JSON.readTree(client.getKubernetesSerialization().asJson(object));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Health of(JsonNode object) {
    try {
      Globals globals = JsePlatform.standardGlobals();
      globals.set("obj", lua(object));
      LuaValue result = globals.load(Files.readString(ControlPlane.repoRoot().resolve(SCRIPT)), SCRIPT).call();
      return new Health(result.get("status").optjstring(null), result.get("message").optjstring(null));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static LuaValue lua(JsonNode node) {
    if (node.isObject()) {
      LuaTable table = new LuaTable();
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        table.set(field.getKey(), lua(field.getValue()));
      }
      return table;
    }
    if (node.isArray()) {
      LuaTable table = new LuaTable();
      for (int i = 0; i < node.size(); i++) {
        table.set(i + 1, lua(node.get(i)));
      }
      return table;
    }
    if (node.isNumber()) {
      return LuaValue.valueOf(node.doubleValue());
    }
    if (node.isBoolean()) {
      return LuaValue.valueOf(node.booleanValue());
    }
    return node.isNull() ? LuaValue.NIL : LuaValue.valueOf(node.asText());
  }
}
