#!/usr/bin/python3
"""Turns reStructuredText documentation (the Python docs' _sources) into prose documents.

Usage: extract_rst.py OUT_TXT SOURCES_DIR [--skip RELPATH]...

Reads every *.rst.txt under SOURCES_DIR in sorted path order and writes one document
per section: the section title on the first line, then one line per paragraph or list
item. Code (literal blocks after "::", doctests, code directives), tables, indexes,
tables of contents and other markup-only directives are dropped; admonitions (note,
warning, versionchanged, ...) and the descriptions of documented objects are kept, the
latter under their signature line. Inline markup is reduced to its text:
:func:`~os.path.join` -> join, ``x`` -> x, `text <url>`_ -> text.
Output format as in extract_text.py: documents separated by one blank line.
"""

import os
import re
import sys

UNDERLINE_CHARS = set("=-~^\"'*+#`:._")
# Directives whose body is prose that belongs to the text around them.
KEEP_BODY = {
    "note", "warning", "seealso", "versionadded", "versionchanged", "deprecated",
    "deprecated-removed", "important", "tip", "caution", "attention", "hint", "danger",
    "error", "admonition", "impl-detail", "topic", "sidebar", "only", "container",
}
VERSION_NOTES = {
    "versionadded": "New in version %s", "versionchanged": "Changed in version %s",
    "deprecated": "Deprecated since version %s", "deprecated-removed": "Deprecated since version %s",
}
# Directives that document an object: signature line, then a prose description.
DESC_RE = re.compile(r"^(?:py:|c:|std:)?(function|method|class|attribute|data|exception|"
                     r"decorator|decoratormethod|classmethod|staticmethod|abstractmethod|"
                     r"coroutinefunction|coroutinemethod|member|macro|type|var|opcode|"
                     r"cmdoption|option|envvar|describe|object|pdbcommand|2to3fixer)$")
DIRECTIVE_RE = re.compile(r"^\.\.\s+([\w:.-]+)::\s*(.*)$")
BULLET_RE = re.compile(r"^([*+-]|#\.|\d+\.|\(\d+\)|[a-z]\.)\s+")
TABLE_RE = re.compile(r"^[+=][-=+ ]*$")

ROLE_RE = re.compile(r":([\w:.+-]+):`([^`]*)`")
LINK_RE = re.compile(r"`([^`<]*?)\s*<[^`>]*>`__?")
REF_RE = re.compile(r"`([^`]+)`__?")
LITERAL_RE = re.compile(r"``(.+?)``")
DEFAULT_ROLE_RE = re.compile(r"`([^`]+)`")
STRONG_RE = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
EMPH_RE = re.compile(r"(?<![\w*\\])\*(?![\s*])([^*]+?)(?<!\s)\*(?![\w*])")
FOOTNOTE_RE = re.compile(r"\s*\[(?:#[\w-]*|\d+|\*)\]_")
SUBST_RE = re.compile(r"\|(\w[\w ]*)\|")


def role_text(m):
    role, t = m.group(1), m.group(2)
    if t.endswith(">") and "<" in t:
        t = t[:t.rindex("<")].strip()
    t = t.lstrip("!")
    if t.startswith("~"):
        t = t[1:].rsplit(".", 1)[-1]
    if role in ("pep", "rfc") and t.isdigit():
        t = role.upper() + " " + t
    return t


def inline(s, markup=True):
    s = ROLE_RE.sub(role_text, s)
    s = LITERAL_RE.sub(r"\1", s)
    s = LINK_RE.sub(r"\1", s)
    s = REF_RE.sub(r"\1", s)
    s = FOOTNOTE_RE.sub("", s)
    if markup:
        s = DEFAULT_ROLE_RE.sub(r"\1", s)
        s = STRONG_RE.sub(r"\1", s)
        s = EMPH_RE.sub(r"\1", s)
        s = SUBST_RE.sub(r"\1", s)
    s = s.replace("\\ ", "").replace("\\", "")
    s = s.replace(" --- ", " \u2014 ").replace(" -- ", " \u2013 ")
    return " ".join(s.split())


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def is_underline(line):
    s = line.rstrip()
    return len(s) >= 3 and s[0] in UNDERLINE_CHARS and set(s) == {s[0]} and not line.startswith(" ")


class Converter:
    def __init__(self):
        self.docs = []
        self.title = None
        self.paras = []

    def flush_section(self):
        if self.paras:
            head = [self.title] if self.title else []
            self.docs.append("\n".join(head + self.paras))
        self.paras = []

    def add_para(self, lines, markup=True):
        text = inline(" ".join(l.strip() for l in lines), markup)
        if text.endswith("::"):
            if len(text.split()) < 6:
                # "Pretty printing::" only introduces the code that is dropped.
                return
            text = text[:-2].rstrip()
            if text and text[-1].isalnum():
                text += ":"
        if text and any(c.isalpha() for c in text):
            self.paras.append(text)

    def block(self, lines, i, base):
        """Index of the first line after the block indented deeper than BASE from i."""
        n = len(lines)
        while i < n and (not lines[i].strip() or indent_of(lines[i]) > base):
            i += 1
        return i

    def run(self, lines):
        """Converts a list of lines (indentation relative to the enclosing block)."""
        n = len(lines)
        i = 0
        para = []
        para_indent = 0
        skip_literal = False

        def end_para():
            nonlocal para, skip_literal
            if para:
                joined = " ".join(l.strip() for l in para)
                skip_literal = joined.endswith("::")
                self.add_para(para)
            para = []

        while i < n:
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                end_para()
                i += 1
                continue
            ind = indent_of(line)
            if skip_literal and not para:
                skip_literal = False
                if ind > para_indent:
                    i = self.block(lines, i, para_indent)
                    continue
            # Section titles: text over an underline, optionally with an overline.
            if not para and is_underline(line) and i + 2 < n and lines[i + 1].strip() and \
                    is_underline(lines[i + 2]):
                self.flush_section()
                self.title = inline(lines[i + 1].strip())
                i += 3
                continue
            if not para and i + 1 < n and is_underline(lines[i + 1]) and ind == 0 and \
                    not is_underline(line) and len(lines[i + 1].rstrip()) >= len(stripped) - 2:
                self.flush_section()
                self.title = inline(stripped)
                i += 2
                continue
            if stripped.startswith(".. "):
                end_para()
                m = DIRECTIVE_RE.match(stripped)
                end = self.block(lines, i + 1, ind)
                body = dedent(lines[i + 1:end])
                if m:
                    name, arg = m.group(1), m.group(2)
                    short = name.split(":")[-1]
                    if short in KEEP_BODY:
                        first = len(self.paras)
                        self.run(drop_options(body))
                        if short in VERSION_NOTES and arg:
                            note = VERSION_NOTES[short] % arg.split()[0]
                            if len(self.paras) > first:
                                self.paras[first] = note + ": " + self.paras[first]
                            else:
                                self.paras.append(note + ".")
                    elif DESC_RE.match(name):
                        if arg:
                            self.paras.append(" ".join(arg.split()))
                        self.run(drop_options(body))
                i = end
                continue
            if stripped.startswith(">>>") or TABLE_RE.match(stripped) and len(stripped) > 3:
                end_para()
                while i < n and lines[i].strip():
                    i += 1
                continue
            if BULLET_RE.match(stripped) and (not para or ind <= para_indent):
                end_para()
                para_indent = ind
                para = [BULLET_RE.sub("", stripped)]
                item_indent = ind + len(stripped) - len(BULLET_RE.sub("", stripped))
                i += 1
                while i < n and lines[i].strip() and indent_of(lines[i]) >= item_indent and \
                        not BULLET_RE.match(lines[i].strip()):
                    para.append(lines[i])
                    i += 1
                continue
            if not para:
                para_indent = ind
            para.append(line)
            i += 1
        end_para()


OPTION_RE = re.compile(r"^:[\w-]+:(\s|$)")


def drop_options(body):
    """Drops a directive's option lines (":module: os", ":noindex:") at its top."""
    k = 0
    while k < len(body) and OPTION_RE.match(body[k]):
        k += 1
    return body[k:]


def dedent(lines):
    ind = min((indent_of(l) for l in lines if l.strip()), default=0)
    return [l[ind:] if l.strip() else "" for l in lines]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: extract_rst.py OUT_TXT SOURCES_DIR [--skip RELPATH]...\n")
        sys.exit(1)
    out, root = argv[1], argv[2]
    skip = set()
    rest = argv[3:]
    while rest:
        if rest[0] != "--skip" or len(rest) < 2:
            sys.stderr.write("extract_rst.py: bad argument %r\n" % rest[0])
            sys.exit(1)
        skip.add(rest[1])
        rest = rest[2:]
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            if f.endswith(".rst.txt"):
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if rel not in skip:
                    paths.append(rel)
    paths.sort()
    docs = []
    for rel in paths:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            lines = f.read().replace("\t", "        ").split("\n")
        conv = Converter()
        conv.run([l.rstrip() for l in lines])
        conv.flush_section()
        docs.extend(conv.docs)
    docs = [d for d in docs if len(d) >= 80]
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(docs) + "\n")
    print("%s: %d sections from %d files" % (os.path.basename(out), len(docs), len(paths)))


if __name__ == "__main__":
    main(sys.argv)
