package dev.moe.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Jinja template rewritten so that Jinjava renders it as Python's Jinja does with transformers'
 * settings. Jinja's lexer does the whitespace work here, exactly as jinja2/lexer.py does it: the
 * newlines normalised and the last one dropped (keep_trailing_newline=False), {@code -} on a tag
 * stripping the whitespace beside it, {@code trim_blocks} (the newline after a block or comment
 * tag) and {@code lstrip_blocks} (the spaces before one on its line), {@code +} turning those off.
 * What is left for Jinjava has no whitespace control at all, comments are gone, and Python slices
 * with a step ({@code x[::-1]}), which Jinjava's parser refuses, are calls of {@link #SLICE}.
 */
final class JinjaSource {

  /** The function that stands for {@code seq[start:stop:step]}. */
  static final String SLICE = "py_slice__";

  private static final Pattern NEWLINE = Pattern.compile("\r\n|\r|\n");
  private static final Pattern ENDRAW = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
  private static final Pattern RAW = Pattern.compile("\\s*raw\\s*");

  private final String s;
  private final StringBuilder out = new StringBuilder();
  private boolean lineStarting = true;

  private JinjaSource(String source) {
    this.s = source;
  }

  /**
   * @throws IllegalArgumentException a tag or comment is not closed
   */
  static String forJinjava(String template) {
    String normalised = NEWLINE.matcher(template).replaceAll("\n");
    if (normalised.endsWith("\n")) {
      normalised = normalised.substring(0, normalised.length() - 1);
    }
    return new JinjaSource(normalised).lex();
  }

  private String lex() {
    int pos = 0;
    while (true) {
      int open = nextTag(pos);
      if (open < 0) {
        return out.append(s.substring(pos)).toString();
      }
      char kind = s.charAt(open + 1);
      int inner = open + 2;
      char sign = inner < s.length() && (s.charAt(inner) == '-' || s.charAt(inner) == '+') ? s.charAt(inner) : 0;
      if (sign != 0) {
        inner++;
      }
      data(s.substring(pos, open), sign, kind);
      pos = switch (kind) {
        case '#' -> comment(inner);
        case '%' -> block(inner);
        default -> variable(inner);
      };
    }
  }

  private int nextTag(int from) {
    for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
      char c = s.charAt(i + 1);
      if (c == '{' || c == '%' || c == '#') {
        return i;
      }
    }
    return -1;
  }

  /** The text before a tag, less what the tag's whitespace control takes. */
  private void data(String text, char sign, char kind) {
    if (sign == '-') {
      text = PythonStrings.strip(text, null, false, true);
    } else if (sign != '+' && kind != '{') {
      int lineStart = text.lastIndexOf('\n') + 1;
      if ((lineStart > 0 || lineStarting) && text.substring(lineStart).chars().allMatch(PythonStrings::isSpace)) {
        text = text.substring(0, lineStart);
      }
    }
    out.append(text);
  }

  private int comment(int from) {
    int end = s.indexOf("#}", from);
    if (end < 0) {
      throw new IllegalArgumentException("the chat template has a comment that is not closed");
    }
    char sign = s.charAt(end - 1);
    return tagEnd(end + 2, sign == '-' || sign == '+' ? sign : 0, true);
  }

  private int block(int from) {
    int end = tagClose(from, '%');
    char sign = s.charAt(end - 1) == '-' || s.charAt(end - 1) == '+' ? s.charAt(end - 1) : 0;
    String content = s.substring(from, sign != 0 ? end - 1 : end);
    if (RAW.matcher(content).matches()) {
      Matcher endRaw = ENDRAW.matcher(s);
      if (!endRaw.find(end + 2)) {
        throw new IllegalArgumentException("the chat template has a raw block that is not closed");
      }
      int after = tagEnd(end + 2, sign, false); // Jinja trims no newline after {% raw %}
      String body = s.substring(after, endRaw.start());
      if ("-".equals(endRaw.group(1))) {
        body = PythonStrings.strip(body, null, false, true);
      }
      out.append("{% raw %}").append(body).append("{% endraw %}");
      String endSign = endRaw.group(2);
      return tagEnd(endRaw.end(), endSign.isEmpty() ? 0 : endSign.charAt(0), true);
    }
    out.append("{%").append(expression(content)).append("%}");
    return tagEnd(end + 2, sign, true);
  }

  private int variable(int from) {
    int end = tagClose(from, '}');
    char sign = s.charAt(end - 1) == '-' ? '-' : 0;
    out.append("{{").append(expression(s.substring(from, sign != 0 ? end - 1 : end))).append("}}");
    return tagEnd(end + 2, sign, false);
  }

  /** Where {@code X}} (X = '%' or '}') closes the tag: outside strings, brackets balanced. */
  private int tagClose(int from, char first) {
    int end = scan(s, from, (i, c, depth) -> depth == 0 && c == first && i + 1 < s.length() && s.charAt(i + 1) == '}');
    if (end < 0) {
      throw new IllegalArgumentException("the chat template has a tag that is not closed");
    }
    return end;
  }

  /** After a tag: {@code -} strips the whitespace that follows, trim_blocks one newline. */
  private int tagEnd(int pos, char sign, boolean block) {
    int p = pos;
    if (sign == '-') {
      while (p < s.length() && PythonStrings.isSpace(s.charAt(p))) {
        p++;
      }
    } else if (sign != '+' && block && p < s.length() && s.charAt(p) == '\n') {
      p++;
    }
    lineStarting = p > 0 && s.charAt(p - 1) == '\n';
    return p;
  }

  /** Sees one character of a tag outside string literals, with the bracket depth before it. */
  private interface Visitor {
    /** @return true to stop the scan here */
    boolean visit(int index, char c, int depth);
  }

  /**
   * Visits {@code s} from {@code from}, skipping string literals and counting brackets; returns
   * where the visitor stopped, or -1.
   */
  private static int scan(String s, int from, Visitor visitor) {
    int depth = 0;
    for (int i = from; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\'' || c == '"') {
        i = skipString(s, i) - 1;
        continue;
      }
      if (visitor.visit(i, c, depth)) {
        return i;
      }
      if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      }
    }
    return -1;
  }

  private static boolean closes(char c) {
    return c == ')' || c == ']' || c == '}';
  }

  static int skipString(String s, int quote) {
    char q = s.charAt(quote);
    int i = quote + 1;
    while (i < s.length() && s.charAt(i) != q) {
      i += s.charAt(i) == '\\' ? 2 : 1;
    }
    return Math.min(i + 1, s.length());
  }

  /** A tag's content as Jinjava parses it like Jinja. */
  static String expression(String tag) {
    // A macro's parameter defaults are Jinjava's own syntax, not calls: left as they are.
    boolean macro = tag.strip().startsWith("macro ");
    return closingBraces(slices(macro ? tag : keywordArguments(tag)));
  }

  /** {@code }}} inside a tag (a dict literal's end) spaced, so that Jinjava does not take it for the tag's end. */
  static String closingBraces(String tag) {
    StringBuilder result = new StringBuilder(tag.length());
    for (int i = 0; i < tag.length(); i++) {
      char c = tag.charAt(i);
      if (c == '\'' || c == '"') {
        int end = skipString(tag, i);
        result.append(tag, i, end);
        i = end - 1;
        continue;
      }
      result.append(c);
      if (c == '}' && i + 1 < tag.length() && tag.charAt(i + 1) == '}') {
        result.append(' ');
      }
    }
    return result.toString();
  }

  /**
   * Keyword arguments' values in parentheses, {@code f(n=x|length - 1)} as {@code f(n=(x|length -
   * 1))}: Jinjava's parser binds {@code =} tighter than the operators after a filter.
   */
  static String keywordArguments(String tag) {
    List<Integer> equals = new ArrayList<>();
    scan(tag, 0, (i, c, depth) -> {
      if (c == '=' && depth > 0 && isKeyword(tag, i)) {
        equals.add(i);
      }
      return false;
    });
    StringBuilder result = new StringBuilder();
    int copied = 0;
    for (int at : equals) {
      if (at < copied) {
        continue; // inside a value already wrapped
      }
      int end = argumentEnd(tag, at + 1);
      result.append(tag, copied, at + 1).append('(').append(tag, at + 1, end).append(')');
      copied = end;
    }
    return result.append(tag.substring(copied)).toString();
  }

  /** Whether the {@code =} at {@code at} follows {@code ( name} or {@code , name}, and is not {@code ==}. */
  private static boolean isKeyword(String s, int at) {
    if (at + 1 < s.length() && s.charAt(at + 1) == '=') {
      return false;
    }
    int i = at - 1;
    while (i >= 0 && s.charAt(i) == ' ') {
      i--;
    }
    int nameEnd = i + 1;
    while (i >= 0 && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
      i--;
    }
    if (i + 1 == nameEnd || Character.isDigit(s.charAt(i + 1))) {
      return false;
    }
    while (i >= 0 && s.charAt(i) == ' ') {
      i--;
    }
    return i >= 0 && (s.charAt(i) == '(' || s.charAt(i) == ',');
  }

  /** The end of an argument starting at {@code from}: the next top-level {@code ,} or closing bracket. */
  private static int argumentEnd(String s, int from) {
    int end = scan(s, from, (i, c, depth) -> depth == 0 && (c == ',' || closes(c)));
    return end < 0 ? s.length() : end;
  }

  /** {@code expr[a:b:c]} as {@code py_slice__(expr, a, b, c)}, for every such slice in a tag. */
  static String slices(String tag) {
    StringBuilder result = new StringBuilder();
    int copied = 0;
    int i = 0;
    while (i < tag.length()) {
      char c = tag.charAt(i);
      if (c == '\'' || c == '"') {
        i = skipString(tag, i);
        continue;
      }
      if (c == '[') {
        int close = matching(tag, i);
        List<String> parts = close < 0 ? List.of() : splitTopLevel(tag.substring(i + 1, close));
        int start = parts.size() == 3 ? expressionStart(tag, i) : -1;
        if (start >= copied && start < i) {
          result.append(tag, copied, start).append(SLICE).append('(').append(slices(tag.substring(start, i)));
          for (String part : parts) {
            result.append(", ").append(part.isBlank() ? "none" : slices(part.strip()));
          }
          result.append(')');
          copied = close + 1;
          i = close + 1;
          continue;
        }
      }
      i++;
    }
    return result.append(tag.substring(copied)).toString();
  }

  private static int matching(String s, int open) {
    return scan(s, open, (i, c, depth) -> depth == 1 && closes(c));
  }

  private static List<String> splitTopLevel(String s) {
    List<String> parts = new ArrayList<>();
    int[] from = {0};
    scan(s, 0, (i, c, depth) -> {
      if (c == ':' && depth == 0) {
        parts.add(s.substring(from[0], i));
        from[0] = i + 1;
      }
      return false;
    });
    parts.add(s.substring(from[0]));
    return parts;
  }

  /** Where the operand ending just before {@code bracket} starts: names, dots, calls, subscripts, a string. */
  private static int expressionStart(String s, int bracket) {
    int i = bracket;
    while (i > 0) {
      char c = s.charAt(i - 1);
      if (Character.isLetterOrDigit(c) || c == '_' || c == '.') {
        i--;
      } else if (c == ']' || c == ')') {
        int open = matchingBackwards(s, i - 1, c == ']' ? '[' : '(', c);
        if (open < 0) {
          return -1;
        }
        i = open;
      } else if ((c == '\'' || c == '"') && i == bracket) {
        int open = s.lastIndexOf(c, i - 2);
        if (open < 0) {
          return -1;
        }
        i = open;
      } else {
        break;
      }
    }
    return i;
  }

  private static int matchingBackwards(String s, int close, char open, char closeChar) {
    int depth = 0;
    for (int i = close; i >= 0; i--) {
      char ch = s.charAt(i);
      if (ch == closeChar) {
        depth++;
      } else if (ch == open && --depth == 0) {
        return i;
      }
    }
    return -1;
  }
}
