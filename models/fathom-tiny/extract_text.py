#!/usr/bin/python3
"""Turns fortune files, dictd databases and WordNet data files into plain-text documents.

Usage:
  extract_text.py fortune OUT_TXT FILE...        strfile text files ("%" lines separate entries)
  extract_text.py dictd OUT_TXT INDEX DICT_DZ PROSE_INDENT [--underscore-italics]
  extract_text.py wordnet OUT_TXT WORDNET_DIR
  extract_text.py stats TXT                       prints "documents characters bytes"

Every output is UTF-8 with documents separated by exactly one blank line and no blank
line inside a document; lines carry no trailing blanks and no control characters.
"""

import gzip
import os
import re
import sys

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\ufeff]")
# A UTF-8 lead byte followed by a continuation byte, both read as Latin-1 characters.
MOJIBAKE_RE = re.compile(r"[\xc2-\xf4][\x80-\xbf]")
BOX_RE = re.compile(r"[\u2500-\u257f]")


def fail(msg):
    sys.stderr.write("extract_text.py: " + msg + "\n")
    sys.exit(1)


def fix_mojibake(text):
    """Undoes UTF-8 that was decoded as Latin-1 and encoded again (once or more).

    Only text holding a Latin-1 reading of a UTF-8 byte pair ("Ã©", "Â£") is touched,
    and only when all of it decodes that way.
    """
    for _ in range(3):
        if not MOJIBAKE_RE.search(text):
            break
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
    return text


def clean_lines(text):
    """Removes terminal escapes, control characters and soft hyphens; strips each line;
    drops empty lines."""
    text = fix_mojibake(text)
    text = ANSI_RE.sub("", text.replace("\r\n", "\n").replace("\t", " "))
    text = CONTROL_RE.sub("", text)
    return [line.strip() for line in text.split("\n") if line.strip()]


def write_docs(path, docs):
    docs = [d for d in docs if d]
    for d in docs:
        if "\n\n" in d:
            fail("internal: blank line inside a document")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(docs) + "\n")
    return len(docs)


def read_utf8(path):
    data = open(path, "rb").read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Older fortune files are Latin-1; every byte is valid there.
        return data.decode("latin-1")


def mostly_letters(doc, share=0.6):
    """False for ASCII art and other text that is more symbols than words."""
    chars = [c for c in doc if not c.isspace()]
    return bool(chars) and sum(c.isalpha() for c in chars) >= share * len(chars)


def cmd_fortune(out, files):
    docs = []
    dropped = 0
    for path in files:
        entry = []
        for line in read_utf8(path).split("\n") + ["%"]:
            if line.rstrip("\r") == "%":
                doc = "\n".join(clean_lines("\n".join(entry)))
                entry = []
                if not doc:
                    continue
                if mostly_letters(doc):
                    docs.append(doc)
                else:
                    dropped += 1
            else:
                entry.append(line)
    n = write_docs(out, docs)
    print("%s: %d fortunes from %d files (%d mostly non-letter entries dropped)" %
          (os.path.basename(out), n, len(files), dropped))


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64_number(s, where):
    v = 0
    for c in s:
        d = B64.find(c)
        if d < 0:
            fail("%s: bad base64 number %r" % (where, s))
        v = v * 64 + d
    return v


PRON_RE = re.compile(r"/[^/\s]*/,?\s*")
XREF_RE = re.compile(r"\{([^{}]*)\}")
UNDERLINE_RE = re.compile(r"(?<![A-Za-z0-9])_([^_]{1,300}?)_(?![A-Za-z0-9])")


def dictd_entry(headword, body, prose_indent, underscore_italics):
    """One dictd entry as a document: a headword line, then one line per prose paragraph.

    Paragraphs whose lines all sit at PROSE_INDENT (the first line may differ) are
    reflowed onto one line; others (verse, examples) keep their lines, except box-drawn
    tables and ASCII art (under 35 % letters), which are dropped.
    """
    # "{bit bucket}" marks a cross reference; the braces may wrap onto the next line.
    body = XREF_RE.sub(lambda m: " ".join(m.group(1).split()), body)
    if underscore_italics:
        body = UNDERLINE_RE.sub(r"\1", body)
    lines = body.replace("\t", "        ").split("\n")
    # dictfmt repeats the headword as the entry's first line, and the Jargon File puts
    # pronunciation and part of speech on the second: "hacker" / " n.".
    first = lines[0].strip()
    if first.lower() == headword.lower() or first.lower().replace(" ", "") == headword.lower().replace(" ", ""):
        head = first
        lines = lines[1:]
        if lines and lines[0].startswith(" ") and lines[0].strip():
            pos = PRON_RE.sub("", lines[0].strip()).strip().lstrip(",").strip()
            if pos:
                head += ", " + pos
            lines = lines[1:]
        out = [head]
    else:
        out = []
    para = []

    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def emit(block):
        if len(block) > 1 and indent(block[-1]) >= 20:
            # A right-aligned attribution ("Oliver Cromwell") under a quotation.
            emit(block[:-1])
            out.append(block[-1].strip())
            return
        indents = [indent(l) for l in block]
        rest = set(indents[1:])
        # Prose: continuation lines at the prose indent, or an indented quotation whose
        # first line sits deeper than its (equal) continuation lines. Verse has all its
        # lines at one indent and keeps them.
        if (rest <= {prose_indent} and indents[0] >= prose_indent) or \
                (len(rest) == 1 and indents[0] > min(rest) >= prose_indent):
            out.append(" ".join(" ".join(l.split()) for l in block))
        elif mostly_letters("".join(block), 0.35):
            out.extend(" ".join(l.split()) for l in block)

    def flush():
        if not para:
            return
        if any(BOX_RE.search(l) for l in para):
            # A box-drawn table: no use as running text.
            para.clear()
            return
        # Without a blank line between them, a paragraph starts at an indented line
        # that is followed by a line at the prose indent (The Devil's Dictionary).
        start = 0
        for k in range(1, len(para) - 1):
            if indent(para[k]) > prose_indent and indent(para[k + 1]) == prose_indent:
                emit(para[start:k])
                start = k
        emit(para[start:])
        para.clear()

    for line in lines + [""]:
        if line.strip():
            para.append(line.rstrip())
        else:
            flush()
    return "\n".join(clean_lines("\n".join(out)))


def cmd_dictd(out, index, dz, prose_indent, underscore_italics):
    data = gzip.open(dz).read()
    entries = {}
    with open(index, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                fail("%s:%d: expected headword, offset, length" % (index, n))
            head = parts[0]
            off = b64_number(parts[1], "%s:%d" % (index, n))
            size = b64_number(parts[2], "%s:%d" % (index, n))
            if off + size > len(data):
                fail("%s:%d: entry runs past the end of %s" % (index, n, dz))
            # Several headwords may share one entry; keep the first seen.
            entries.setdefault((off, size), head)
    docs = []
    for (off, size), head in sorted(entries.items()):
        if head.startswith("00-database") or head.startswith("00database"):
            continue
        body = data[off:off + size].decode("utf-8")
        docs.append(dictd_entry(head, body, prose_indent, underscore_italics))
    n = write_docs(out, docs)
    print("%s: %d entries" % (os.path.basename(out), n))


WN_FILES = (("data.noun", "n"), ("data.verb", "v"), ("data.adj", "a"), ("data.adv", "r"))
WN_MARKER_RE = re.compile(r"\((?:a|p|ip)\)$")


def cmd_wordnet(out, wndir):
    docs = []
    for name, _ in WN_FILES:
        path = os.path.join(wndir, name)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.startswith("  "):      # licence header
                    continue
                fields, bar, gloss = line.partition(" | ")
                if not bar:
                    fail("%s:%d: no gloss separator" % (path, n))
                parts = fields.split()
                try:
                    count = int(parts[3], 16)
                except (IndexError, ValueError):
                    fail("%s:%d: bad word count" % (path, n))
                words = []
                for k in range(count):
                    w = WN_MARKER_RE.sub("", parts[4 + 2 * k]).replace("_", " ")
                    if w not in words:
                        words.append(w)
                gloss = " ".join(gloss.split()).replace("`", "'")
                if words and gloss:
                    docs.append("%s: %s" % (", ".join(words), gloss))
    n = write_docs(out, docs)
    print("%s: %d synsets" % (os.path.basename(out), n))


def cmd_stats(path):
    text = open(path, encoding="utf-8").read()
    docs = [d for d in text.split("\n\n") if d.strip()]
    print("%d %d %d" % (len(docs), len(text), len(text.encode("utf-8"))))


def main(argv):
    if len(argv) < 3:
        fail("usage: see the header of this file")
    cmd = argv[1]
    if cmd == "fortune" and len(argv) >= 4:
        cmd_fortune(argv[2], argv[3:])
    elif cmd == "dictd" and len(argv) in (6, 7) and argv[6:] in ([], ["--underscore-italics"]):
        cmd_dictd(argv[2], argv[3], argv[4], int(argv[5]), len(argv) == 7)
    elif cmd == "wordnet" and len(argv) == 4:
        cmd_wordnet(argv[2], argv[3])
    elif cmd == "stats" and len(argv) == 3:
        cmd_stats(argv[2])
    else:
        fail("usage: see the header of this file")


if __name__ == "__main__":
    main(sys.argv)
