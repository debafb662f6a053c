package dev.moe.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Jinja as transformers renders it, where Jinjava differs by default: whitespace control, Python's
 * str methods and slices, tojson as json.dumps, namespace, loop controls, printing, errors. Every
 * expected string is Python's (jinja2 3.1.6 through transformers 4.57.6's environment).
 */
class ChatTemplateTest {

  static final List<Map<String, Object>> MESSAGES = List.of(Map.of("role", "system", "content", "s"),
      Map.of("role", "user", "content", "u"), Map.of("role", "assistant", "content", "a"));

  /** Template, then what Python's Jinja renders for {@link #MESSAGES}. */
  static final String[][] PYTHON = {
      {"a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
          "a\n  b\nc"},
      {"{# c #}\n  x {#- d -#}  y\n{%+ if true %}z{% endif +%}\nw",
          "  xy\nz\nw"},
      {"{{- 'a' -}}  \n  {{ 'b' }} {{- 'c' }}\n",
          "abc"},
      {"{% for m in messages %}\n    {{ loop.index0 }}:{{ m.role }}\n{% endfor %}\n",
          "    0:system\n    1:user\n    2:assistant\n"},
      {"{{ messages[::-1]|map(attribute='role')|join(',') }}|{{ 'abcdef'[1:5:2] }}|{{ 'abc'[::-1] }}|{{ [1,2,3,4][-2:] }}",
          "assistant,user,system|bd|cba|[3, 4]"},
      {"{{ '  x y  '.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'xxhixx'.strip('x') }}|{{ 'Hi'.startswith(('a','H')) }}|{{ 'abc'.upper() }}|{{ 'a-b-c'.rsplit('-', 1) }}|{{ 'aaa'.replace('a','b',2) }}",
          "x y|['a', 'b', '', 'c']|['a', 'b']|hi|True|ABC|['a-b', 'c']|bba"},
      {"{{ {'b': 1, 'a': [1.5, 1e-07, 1e16, 100.0, true, none, 'é\"\\n\\t<>&'] }|tojson }}|{{ {'b': {'c': []}, 'a': {}}|tojson(indent=2) }}|{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
          "{\"b\": 1, \"a\": [1.5, 1e-07, 1e+16, 100.0, true, null, \"é\\\"\\n\\t<>&\"]}|{\n  \"b\": {\n    \"c\": []\n  },\n  \"a\": {}\n}|{\"a\": 2, \"b\": 1}"},
      {"{% set ns = namespace(n=messages|length - 1, s='') %}{% for m in messages %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }}{{ ns.s }}",
          "2sua"},
      {"{% for m in messages %}{% if loop.index0 == 1 %}{% continue %}{% endif %}{% if loop.index0 == 2 %}{% break %}{% endif %}{{ m.role }}{% endfor %}",
          "system"},
      {"{{ 'tool_calls' in messages[0] }}{{ 'role' in messages[0] }}{{ messages[0].content is string }}{{ messages[0].nope is defined }}",
          "FalseTrueTrueFalse"},
      {"a {% raw %}{{ not }} {% x %}{% endraw %} b\n  {%- raw -%}  {{ y }}  {%- endraw %}  c",
          "a {{ not }} {% x %} b{{ y }}  c"},
      {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('x') }} {{ greet(name='y', punct='?') }}",
          "Hi x! Hi y?"},
      {"{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }}|{{ messages|length }}|{{ (messages|first).role }}|{{ messages[-1]['role']|upper }}",
          "u|3|system|ASSISTANT"}
  };

  @Test
  void rendersAsPythonJinja() {
    for (String[] c : PYTHON) {
      assertEquals(c[1], new ChatTemplate(c[0], Map.of()).render(MESSAGES, false, Map.of()), c[0]);
    }
  }

  @Test
  void raiseExceptionIsTheClientsError() {
    try (TextTokenizer mixtral = TextTokenizer.load(Fixtures.dir("mixtral"))) {
      ChatTemplate template = mixtral.chatTemplate();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> template.render(
          List.of(Map.of("role", "user", "content", "a"), Map.of("role", "user", "content", "b")), true, Map.of()));
      assertEquals("After the optional system message, conversation roles must alternate"
          + " user/assistant/user/assistant/...", e.getMessage());
      // The content of messages is data, never a template itself.
      assertEquals("<s> [INST] {{ 7*7 }} {% if %} [/INST]",
          template.render(List.of(Map.of("role", "user", "content", "{{ 7*7 }} {% if %}")), true, Map.of()));
    }
  }

  @Test
  void toolsAndToolCallsRenderAsTransformers() {
    Map<String, Object> tool = Map.of("type", "function", "function", Map.of("name", "get_weather",
        "description", "Weather of a city", "parameters", ordered("type", "object",
            "properties", ordered("city", Map.of("type", "string"), "days", Map.of("type", "integer")),
            "required", List.of("city"))));
    List<Map<String, Object>> qwen = List.of(Map.of("role", "system", "content", "Use tools."),
        Map.of("role", "user", "content", "Weather in Zürich?"),
        Map.of("role", "assistant", "content", "", "tool_calls", List.of(Map.of("type", "function", "function",
            Map.of("name", "get_weather", "arguments", ordered("city", "Zürich", "days", 2, "scale", 1.5e-7))))),
        Map.of("role", "tool", "content", "{\"temp\": 21}"), Map.of("role", "tool", "content", "sunny"));
    try (TextTokenizer qwen3 = TextTokenizer.load(Fixtures.dir("qwen3_moe"))) {
      assertEquals("<|im_start|>system\nUse tools.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Zürich?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"days\": 2, \"scale\": 1.5e-07}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response>\n<tool_response>\nsunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
          qwen3.chatTemplate().render(qwen, true, Map.of("tools", List.of(orderedTool(tool)))));
    }
    java.util.HashMap<String, Object> call = new java.util.HashMap<>(Map.of("role", "assistant", "tool_calls",
        List.of(Map.of("type", "function", "function", Map.of("name", "get_weather", "arguments",
            "{\"city\": \"Zürich\"}")))));
    call.put("content", null);
    List<Map<String, Object>> deepseek = List.of(Map.of("role", "user", "content", "Weather in Zürich?"), call,
        Map.of("role", "tool", "content", "21 degrees"));
    try (TextTokenizer v3 = TextTokenizer.load(Fixtures.dir("deepseek_v3"))) {
      assertEquals("<｜begin▁of▁sentence｜><｜User｜>Weather in Zürich?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Zürich\"}\n```<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>21 degrees<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
          v3.chatTemplate().render(deepseek, true, Map.of()));
    }
  }

  @Test
  void aTemplateThatDoesNotParseIsRefusedAtLoad() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ChatTemplate("{% for m in messages %}{{ m.content }}", Map.of()));
    assertTrue(e.getMessage().startsWith("the chat template does not parse"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ChatTemplate("{{ 'a' ", Map.of()));
  }

  static Map<String, Object> ordered(Object... keyValues) {
    Map<String, Object> map = new java.util.LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      map.put((String) keyValues[i], keyValues[i + 1]);
    }
    return map;
  }

  /** A tool as a client sends it: keys in the order given (json.dumps keeps it). */
  static Map<String, Object> orderedTool(Map<String, Object> tool) {
    @SuppressWarnings("unchecked")
    Map<String, Object> function = (Map<String, Object>) tool.get("function");
    return ordered("type", "function", "function", ordered("name", function.get("name"),
        "description", function.get("description"), "parameters", function.get("parameters")));
  }
}
