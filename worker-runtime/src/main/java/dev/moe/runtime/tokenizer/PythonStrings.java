package dev.moe.runtime.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} methods for Jinjava, which otherwise offers Java's: chat templates call
 * {@code content.startswith('<tool_response>')}, {@code .split('</think>')[-1].lstrip('\n')},
 * {@code .rstrip()} and the like, with Python's semantics (a literal separator for split, a set of
 * characters for strip). Resolves only method calls on strings with these names; everything else
 * falls through to Jinjava's own resolvers.
 */
final class PythonStrings extends ELResolver {

  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (!(base instanceof String s) || method == null) {
      return null;
    }
    Object[] args = params == null ? new Object[0] : params;
    Object result = call(s, method.toString(), args);
    if (result != NOT_A_METHOD) {
      context.setPropertyResolved(true);
      return result;
    }
    return null;
  }

  private static final Object NOT_A_METHOD = new Object();

  private static Object call(String s, String method, Object[] args) {
    return switch (method) {
      case "strip" -> strip(s, chars(args), true, true);
      case "lstrip" -> strip(s, chars(args), true, false);
      case "rstrip" -> strip(s, chars(args), false, true);
      case "startswith" -> affix(s, args, true);
      case "endswith" -> affix(s, args, false);
      case "split" -> split(s, arg(args, 0), maxSplit(args));
      case "rsplit" -> rsplit(s, arg(args, 0), maxSplit(args));
      case "splitlines" -> s.lines().toList();
      case "replace" -> replace(s, str(args, 0), str(args, 1), args.length > 2 ? integer(args[2]) : -1);
      case "upper" -> s.toUpperCase(Locale.ROOT);
      case "lower" -> s.toLowerCase(Locale.ROOT);
      case "title" -> title(s);
      case "capitalize" -> s.isEmpty() ? s
          : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
      case "find" -> s.indexOf(str(args, 0));
      case "rfind" -> s.lastIndexOf(str(args, 0));
      case "count" -> count(s, str(args, 0));
      case "join" -> join(s, args.length > 0 ? args[0] : List.of());
      case "isspace" -> !s.isEmpty() && s.chars().allMatch(PythonStrings::isSpace);
      case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
      case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
      default -> NOT_A_METHOD;
    };
  }

  private static Object arg(Object[] args, int i) {
    return i < args.length ? args[i] : null;
  }

  private static String str(Object[] args, int i) {
    Object a = arg(args, i);
    if (a == null) {
      throw new IllegalArgumentException("missing string argument " + (i + 1));
    }
    return a.toString();
  }

  private static String chars(Object[] args) {
    Object a = arg(args, 0);
    return a == null ? null : a.toString();
  }

  private static int maxSplit(Object[] args) {
    Object a = arg(args, 1);
    return a == null ? -1 : integer(a);
  }

  private static int integer(Object o) {
    return o instanceof Number n ? n.intValue() : Integer.parseInt(o.toString());
  }

  /** Python's str.isspace for one character. */
  static boolean isSpace(int c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || (c >= 0x1c && c <= 0x1f) || c == 0x85;
  }

  /** {@code chars} null: whitespace; else any of its characters. */
  static String strip(String s, String chars, boolean left, boolean right) {
    int start = 0;
    int end = s.length();
    if (left) {
      while (start < end && strips(s.charAt(start), chars)) {
        start++;
      }
    }
    if (right) {
      while (end > start && strips(s.charAt(end - 1), chars)) {
        end--;
      }
    }
    return s.substring(start, end);
  }

  private static boolean strips(char c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }

  /** startswith/endswith: a string or a tuple (list) of them. */
  private static boolean affix(String s, Object[] args, boolean prefix) {
    Object a = arg(args, 0);
    List<String> options = new ArrayList<>();
    if (a instanceof Collection<?> c) {
      c.forEach(o -> options.add(String.valueOf(o)));
    } else {
      options.add(String.valueOf(a));
    }
    return options.stream().anyMatch(o -> prefix ? s.startsWith(o) : s.endsWith(o));
  }

  /** Python's str.split: a literal separator, or (none) runs of whitespace without empty parts. */
  static List<String> split(String s, Object separator, int maxSplit) {
    List<String> parts = new ArrayList<>();
    if (separator == null) {
      int i = 0;
      int n = s.length();
      while (true) {
        while (i < n && isSpace(s.charAt(i))) {
          i++;
        }
        if (i >= n) {
          return parts;
        }
        if (maxSplit >= 0 && parts.size() == maxSplit) {
          parts.add(strip(s.substring(i), null, false, true));
          return parts;
        }
        int j = i;
        while (j < n && !isSpace(s.charAt(j))) {
          j++;
        }
        parts.add(s.substring(i, j));
        i = j;
      }
    }
    String sep = separator.toString();
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    int from = 0;
    while (maxSplit < 0 || parts.size() < maxSplit) {
      int at = s.indexOf(sep, from);
      if (at < 0) {
        break;
      }
      parts.add(s.substring(from, at));
      from = at + sep.length();
    }
    parts.add(s.substring(from));
    return parts;
  }

  private static List<String> rsplit(String s, Object separator, int maxSplit) {
    if (separator == null || maxSplit < 0) {
      return split(s, separator, maxSplit);
    }
    String sep = separator.toString();
    List<String> parts = new ArrayList<>();
    int end = s.length();
    while (parts.size() < maxSplit) {
      int at = s.lastIndexOf(sep, end - sep.length());
      if (at < 0) {
        break;
      }
      parts.addFirst(s.substring(at + sep.length(), end));
      end = at;
    }
    parts.addFirst(s.substring(0, end));
    return parts;
  }

  private static String replace(String s, String old, String replacement, int count) {
    if (count < 0) {
      return s.replace(old, replacement);
    }
    StringBuilder out = new StringBuilder();
    int from = 0;
    for (int done = 0; done < count; done++) {
      int at = s.indexOf(old, from);
      if (at < 0) {
        break;
      }
      out.append(s, from, at).append(replacement);
      from = at + old.length();
      if (old.isEmpty()) {
        if (from >= s.length()) {
          break;
        }
        out.append(s.charAt(from++));
      }
    }
    return out.append(s.substring(from)).toString();
  }

  private static int count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String separator, Object items) {
    List<String> parts = new ArrayList<>();
    if (items instanceof Iterable<?> it) {
      it.forEach(o -> parts.add(String.valueOf(o)));
    } else {
      parts.add(String.valueOf(items));
    }
    return String.join(separator, parts);
  }

  private static String title(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean previousCased = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
      previousCased = Character.isLetter(c);
    }
    return out.toString();
  }

  /** {@code s[i]} (negative from the end); other properties are left to Jinjava's resolvers. */
  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    Integer i = index(property);
    if (base instanceof String s && i != null) {
      int index = i < 0 ? i + s.length() : i;
      context.setPropertyResolved(true);
      return index >= 0 && index < s.length() ? String.valueOf(s.charAt(index)) : null;
    }
    return null;
  }

  /** An index as Jinjava passes it: a number, or its digits as a string. */
  private static Integer index(Object property) {
    if (property instanceof Integer || property instanceof Long) {
      return ((Number) property).intValue();
    }
    if (property instanceof String p && p.matches("-?\\d{1,9}")) {
      return Integer.parseInt(p);
    }
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
