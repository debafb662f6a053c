package dev.moe.runtime.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.lang.reflect.Method;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * A checkpoint's chat template (Jinja), rendered as transformers' {@code apply_chat_template}
 * renders it: trim_blocks and lstrip_blocks, the template's one trailing newline dropped, the
 * variables {@code messages}, {@code add_generation_prompt}, {@code tools}, {@code documents} and
 * the tokenizer's special tokens ({@code bos_token}, {@code eos_token}, ...), and the functions and
 * filters transformers adds ({@code raise_exception}, {@code strftime_now}, {@code tojson} as
 * Python's json.dumps) plus what real templates need of Python ({@code str} methods, {@code [::-1]}
 * slices, {@code namespace}, {@code loop}, {@code break}/{@code continue}).
 *
 * <p>Thread-safe: each render has its own interpreter.
 */
public final class ChatTemplate {

  private final String source;
  private final Map<String, Object> specialTokens;
  private final Jinjava jinjava;

  /**
   * @param source the template, as in tokenizer_config.json's {@code chat_template} or {@code
   *     chat_template.jinja}
   * @param specialTokens {@code bos_token}, {@code eos_token} and the other special tokens, by
   *     those names (transformers' special_tokens_map)
   * @throws IllegalArgumentException the template does not parse
   */
  public ChatTemplate(String source, Map<String, ?> specialTokens) {
    this.source = JinjaSource.forJinjava(source);
    this.specialTokens = Collections.unmodifiableMap(new HashMap<>(specialTokens));
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonStrings());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
    jinjava = new Jinjava(JinjavaConfig.newBuilder()
        // JinjaSource did trim_blocks and lstrip_blocks as Jinja does them.
        .withElResolver(resolver)
        // Python's ways: dict keys evaluated and iterated, lists and dicts printed as repr, None kept in loops.
        .withLegacyOverrides(LegacyOverrides.newBuilder()
            .withEvaluateMapKeys(true)
            .withIterateOverMapKeys(true)
            .withUsePyishObjectMapper(true)
            .withKeepNullableLoopValues(true)
            .build())
        .withInterperterFactory(new PythonInterpreters())
        // Message content is data: never rendered again as a template (Jinjava would, by default).
        .withNestedInterpretationEnabled(false)
        .withMaxOutputSize(64L << 20)
        .build());
    jinjava.registerFunction(function("raise_exception", "raiseException", String.class));
    jinjava.registerFunction(function("strftime_now", "strftimeNow", String.class));
    jinjava.registerFunction(function(JinjaSource.SLICE, "slice", Object.class, Object.class, Object.class, Object.class));
    jinjava.registerFilter(new ToJson());
    jinjava.registerTag(new GenerationTag());
    JinjavaInterpreter interpreter = jinjava.newInterpreter();
    interpreter.parse(this.source);
    fail(interpreter.getErrors(), "the chat template does not parse");
  }

  /**
   * The prompt for {@code messages}.
   *
   * @param messages each with {@code role} and {@code content} (and whatever else the template
   *     reads: {@code tool_calls}, {@code reasoning_content}, ...)
   * @param addGenerationPrompt end with the start of an assistant turn
   * @param extra further variables ({@code tools}, {@code enable_thinking}, ...); may be empty
   * @throws IllegalArgumentException the template refused the conversation (its {@code
   *     raise_exception} message) or failed on it
   */
  public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
    Map<String, Object> bindings = new HashMap<>(specialTokens);
    bindings.put("tools", null);
    bindings.put("documents", null);
    bindings.putAll(extra);
    bindings.put("messages", messages);
    bindings.put("add_generation_prompt", addGenerationPrompt);
    RenderResult result = jinjava.renderForResult(source, bindings);
    fail(result.getErrors(), "the chat template failed");
    return result.getOutput();
  }

  /** Throws the first fatal error: a raise_exception's own message, else Jinjava's. */
  private static void fail(List<TemplateError> errors, String what) {
    for (TemplateError error : errors) {
      for (Throwable t = error.getException(); t != null; t = t.getCause()) {
        if (t instanceof TemplateRaised raised) {
          throw new IllegalArgumentException(raised.getMessage());
        }
      }
    }
    for (TemplateError error : errors) {
      if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new IllegalArgumentException(what + ": " + error.getMessage()
            + (error.getLineno() > 0 ? " (line " + error.getLineno() + ")" : ""));
      }
    }
  }

  /** What transformers' {@code raise_exception} raises: the template's message for the client. */
  static final class TemplateRaised extends RuntimeException {
    TemplateRaised(String message) {
      super(message);
    }
  }

  private static ELFunctionDefinition function(String name, String method, Class<?>... parameters) {
    try {
      Method m = Functions.class.getDeclaredMethod(method, parameters);
      m.setAccessible(true);
      return new ELFunctionDefinition("", name, m);
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The functions templates call; static, as Jinjava's function definitions want them. */
  static final class Functions {
    private Functions() {}

    static Object raiseException(String message) {
      throw new TemplateRaised(message);
    }

    static String strftimeNow(String format) {
      return StrftimeFormatter.format(ZonedDateTime.now(), format, Locale.US);
    }

    /** Python's {@code seq[start:stop:step]} for lists and strings. */
    static Object slice(Object seq, Object start, Object stop, Object step) {
      int st = step == null ? 1 : ((Number) step).intValue();
      if (st == 0) {
        throw new IllegalArgumentException("slice step cannot be zero");
      }
      List<?> items = seq instanceof String s ? s.chars().mapToObj(c -> String.valueOf((char) c)).toList()
          : seq instanceof List<?> l ? l : List.of();
      int n = items.size();
      int lo = st > 0 ? 0 : -1;
      int hi = st > 0 ? n : n - 1;
      int from = start == null ? (st > 0 ? lo : hi) : bound(((Number) start).intValue(), n, lo, hi);
      int to = stop == null ? (st > 0 ? hi : lo) : bound(((Number) stop).intValue(), n, lo, hi);
      List<Object> out = new ArrayList<>();
      for (int i = from; st > 0 ? i < to : i > to; i += st) {
        out.add(items.get(i));
      }
      if (seq instanceof String) {
        StringBuilder sb = new StringBuilder();
        out.forEach(sb::append);
        return sb.toString();
      }
      return out;
    }

    private static int bound(int index, int n, int lo, int hi) {
      int i = index < 0 ? index + n : index;
      return Math.max(lo, Math.min(hi, i));
    }
  }

  /** transformers' {@code tojson}: json.dumps with ensure_ascii=False (no HTML escaping). */
  static final class ToJson implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return PythonJson.dumps(var);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent = kwargs.getOrDefault("indent", args.length > 1 ? args[1] : null);
      Object separators = kwargs.get("separators");
      String item = null;
      String key = null;
      if (separators instanceof List<?> pair && pair.size() == 2) {
        item = String.valueOf(pair.get(0));
        key = String.valueOf(pair.get(1));
      }
      boolean sortKeys = Boolean.TRUE.equals(kwargs.get("sort_keys"));
      return new PythonJson(indent instanceof Number n ? n.intValue() : null, item, key, sortKeys).write(var);
    }
  }

  /** Interpreters that print values as Python does where Jinjava does not: True and False. */
  static final class PythonInterpreters implements InterpreterFactory {
    @Override
    public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
      return new PythonInterpreter(orig);
    }

    @Override
    public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig config) {
      return new PythonInterpreter(application, context, config);
    }
  }

  static final class PythonInterpreter extends JinjavaInterpreter {
    PythonInterpreter(JinjavaInterpreter orig) {
      super(orig);
    }

    PythonInterpreter(Jinjava application, Context context, JinjavaConfig config) {
      super(application, context, config);
    }

    @Override
    public String getAsString(Object value) {
      return value instanceof Boolean b ? (b ? "True" : "False") : super.getAsString(value);
    }
  }

  /** transformers' {@code {% generation %}} block (marks assistant tokens): renders its body. */
  static final class GenerationTag implements Tag {
    @Override
    public String getName() {
      return "generation";
    }

    @Override
    public String getEndTagName() {
      return "endgeneration";
    }

    @Override
    public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
      StringBuilder out = new StringBuilder();
      for (Node child : tagNode.getChildren()) {
        out.append(child.render(interpreter).getValue());
      }
      return out.toString();
    }
  }
}
