#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for goro's public headers (docs/api/Doxyfile.in).

The headers document every declaration in the comment right above it, in
plain // comments (Abseil style). Doxygen reads only ///, so this filter
hands it a copy where:
  * the comment block that opens the file ("// goro/x.hpp: what it is")
    becomes the file's documentation;
  * a comment block directly above a line of code (no blank line between)
    documents what follows it; when several declarations follow it before
    the next blank line (overloads, a getter and its setter), they become
    one member group sharing it (DISTRIBUTE_GROUP_DOC);
  * a comment after a declaration, on the same line, becomes ///<.
Comment blocks followed by a blank line (section notes) stay plain. The
comments' text is escaped (they are prose, not Doxygen markup), and line
numbers are kept, so Doxygen's warnings point at the real header lines.
"""
import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/)(.*)$")
FILE_LINE = re.compile(r"^// (goro/\S+\.hpp): ?(.*)$")
TRAILING = re.compile(r"^(\s*[^/\s].*?[;{,])(\s+)//(?!/)(.*)$")
# Characters that start Doxygen commands, links, HTML tags or entities.
SPECIAL = re.compile(r"([\\@<>#&%$])")


def escape(text):
    return SPECIAL.sub(r"\\\1", text)


def blank_strings(line):
    """The line with the inside of its string literals blanked out (same
    length), so that a // inside a string is not taken for a comment."""
    return re.sub(r'"(\\.|[^"\\])*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', line)


def is_comment(line):
    return COMMENT.match(line) is not None


def is_code(line):
    """A line a comment above it documents: a declaration or a #define
    (other preprocessor lines are not documented)."""
    s = line.strip()
    directive = s.startswith("#") and not re.match(r"#\s*define\b", s)
    return bool(s) and not is_comment(line) and not directive


def declarations_in(lines):
    """How many declarations the lines hold, or -1 if braces do not balance."""
    depth = 0
    count = 0
    last = ""
    for line in lines:
        code = re.sub(r'"(\\.|[^"\\])*"', '""', line).split("//", 1)[0]
        for ch in code:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    count += 1
            elif ch == ";" and depth == 0 and last != "}":
                count += 1
            if not ch.isspace():
                last = ch
        if depth < 0:
            return -1
    return count if depth == 0 else 0


def group(out, lines, first, n):
    """Makes the declarations from lines[first] to the next blank or comment
    line one member group, if there are several and they balance."""
    last = first
    while (
        last + 1 < n
        and is_code(lines[last + 1])
        and not lines[last + 1].lstrip().startswith(("public:", "private:", "protected:"))
        and declarations_in(lines[first : last + 2]) >= 0
    ):
        last += 1
    block = lines[first : last + 1]
    if last == first or declarations_in(block) < 2:
        return
    indent = re.match(r"\s*", out[first]).group(0)
    out[first] = f"{indent}/** @{{ */ {out[first].lstrip()}"
    out[last] = f"{out[last].rstrip()} /** @}} */\n"


def filter_lines(lines):
    out = list(lines)
    n = len(lines)
    i = 0
    if n and is_comment(lines[0]):
        head = FILE_LINE.match(lines[0])
        if head:
            out[0] = f"/// \\file {head.group(1)} {escape(head.group(2))}\n"
        i = 1
        while i < n and is_comment(lines[i]):
            m = COMMENT.match(lines[i])
            out[i] = f"{m.group(1)}///{escape(m.group(2))}\n"
            i += 1
    while i < n:
        if not is_comment(lines[i]):
            m = TRAILING.match(blank_strings(lines[i]))
            if m and "///" not in out[i]:
                code = lines[i][: len(m.group(1))]
                comment = lines[i][len(m.group(1)) + len(m.group(2)) + 2 :].rstrip("\n")
                out[i] = f"{code}{m.group(2)}///<{escape(comment)}\n"
            i += 1
            continue
        j = i
        while j < n and is_comment(lines[j]):
            j += 1
        if j < n and is_code(lines[j]):
            for k in range(i, j):
                m = COMMENT.match(lines[k])
                out[k] = f"{m.group(1)}///{escape(m.group(2))}\n"
            group(out, lines, j, n)
        i = j
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.readlines()
    sys.stdout.write("".join(filter_lines(lines)))


if __name__ == "__main__":
    main()
