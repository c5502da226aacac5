#!/usr/bin/python3
"""Reads a SWORD zText Bible module and writes one plain-text paragraph per chapter.

Usage: extract_sword.py SWORD_ROOT OUT_TXT [--expect-verses N]

SWORD_ROOT is the directory holding mods.d/ and modules/ (usr/share/sword inside an
extracted sword-text-* package). Exactly one module must be configured there.

The zText format (one set of files per testament, prefix "ot" and "nt"):
  X.bzs  block index, one 12-byte record per compressed block:
         offset u32, compressed size u32, uncompressed size u32 (little endian);
         offset and size locate the block inside X.bzz.
  X.bzv  verse index, one 10-byte record per verse slot:
         block u32, offset u32 (inside the uncompressed block), size u16.
         A size of 0 means the slot is empty.
  X.bzz  the blocks, each compressed on its own (CompressType=ZIP: zlib stream).
Slots follow the module's versification in order: slot 0 is unused, slot 1 is the
testament heading, then for every book a book heading slot and, for every chapter,
a chapter heading slot followed by one slot per verse. The entry text is markup
(SourceType, OSIS here), in which book and chapter starts are marked by
<div type="book" osisID=... sID=.../> and <chapter osisID=... n=... sID=.../>, so the
book and chapter structure is recovered from the markup itself rather than from a
versification table.

Output: UTF-8, documents separated by one blank line, no blank line inside a
document. A chapter document is "Book N" on its first line and the chapter's text
(verses joined by spaces, footnotes and non-canonical headings removed) on the
second. Front matter (the WEB preface) becomes one document with one line per
paragraph. Prints counts of books, chapters and verses.
"""

import html
import os
import re
import struct
import sys
import zlib


def fail(msg):
    sys.stderr.write("extract_sword.py: " + msg + "\n")
    sys.exit(1)


def read_conf(root):
    mods = os.path.join(root, "mods.d")
    confs = sorted(f for f in os.listdir(mods) if f.endswith(".conf"))
    if len(confs) != 1:
        fail("%s: expected exactly one .conf, found %d" % (mods, len(confs)))
    path = os.path.join(mods, confs[0])
    conf = {}
    name = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                name = line[1:-1]
            elif "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                conf.setdefault(k.strip(), v.strip())
    if name is None:
        fail(path + ": no [module] section")
    conf["Name"] = name
    return path, conf


def read_testament(datadir, prefix):
    """Returns the list of slot texts (str, '' for empty slots) of one testament."""
    paths = [os.path.join(datadir, prefix + ext) for ext in (".bzs", ".bzv", ".bzz")]
    if not all(os.path.exists(p) for p in paths):
        return []
    bzs, bzv, bzz = (open(p, "rb").read() for p in paths)
    if len(bzs) % 12 or len(bzv) % 10:
        fail("%s: index sizes %d/%d are not multiples of 12/10" % (datadir, len(bzs), len(bzv)))
    blocks = []
    for i in range(len(bzs) // 12):
        off, size, usize = struct.unpack_from("<III", bzs, i * 12)
        if off + size > len(bzz):
            fail("%s%s.bzs: block %d runs past the end of %s.bzz" % (datadir, prefix, i, prefix))
        raw = zlib.decompress(bzz[off:off + size]) if size else b""
        if len(raw) != usize:
            fail("%s: block %d inflates to %d bytes, index says %d" % (prefix, i, len(raw), usize))
        blocks.append(raw)
    slots = []
    for i in range(len(bzv) // 10):
        blk, off, size = struct.unpack_from("<IIH", bzv, i * 10)
        if size == 0:
            slots.append("")
            continue
        if blk >= len(blocks) or off + size > len(blocks[blk]):
            fail("%s.bzv: slot %d points outside block %d" % (prefix, i, blk))
        slots.append(blocks[blk][off:off + size].decode("utf-8"))
    return slots


BOOK_RE = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\bsID=")[^>]*/>')
BOOK_END_RE = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\beID=")[^>]*/>')
PARTIAL_TAG_RE = re.compile(r"<[^>]*$")
CHAPTER_RE = re.compile(r'<chapter\b[^>]*\bsID="[^"]*"[^>]*/>')
ATTR_RE = re.compile(r'(\w+)="([^"]*)"')
MILESTONE_H_RE = re.compile(r'<milestone\b[^>]*/>')
NOTE_RE = re.compile(r"<note\b[^>]*/>|<note\b.*?</note>", re.S)
TITLE_RE = re.compile(r"<title\b([^>]*)>(.*?)</title>", re.S)
BREAK_RE = re.compile(r'<div\b[^>]*type="x-p"[^>]*/>|<lb\b[^>]*/>|</?(?:p|l|lg|item|list)\b[^>]*>')
TAG_RE = re.compile(r"<[^>]*>")
KEYWORD_RE = re.compile(r'<seg\b[^>]*type="keyword"[^>]*>(.*?)</seg>', re.S)
# Stray USFM character markers left in some notes and verses: "\nd LORD\+nd*".
USFM_OPEN_RE = re.compile(r"\\\+?[a-z]+[0-9]* ")
USFM_CLOSE_RE = re.compile(r"\\\+?[a-z]+[0-9]*\*")
SPACE_BEFORE_PUNCT_RE = re.compile(r" +([,.;:!?)\]”])")


# Names for OSIS book ids, used only when a chapter's book heading is missing from the
# module (the WEB module loses the headings after its truncated "Daniel (Greek)" slot).
OSIS_BOOKS = dict(pair.replace("_", " ").split("=") for pair in (
    "Gen=Genesis Exod=Exodus Lev=Leviticus Num=Numbers Deut=Deuteronomy Josh=Joshua "
    "Judg=Judges Ruth=Ruth 1Sam=1_Samuel 2Sam=2_Samuel 1Kgs=1_Kings 2Kgs=2_Kings "
    "1Chr=1_Chronicles 2Chr=2_Chronicles Ezra=Ezra Neh=Nehemiah Esth=Esther Job=Job "
    "Ps=Psalms Prov=Proverbs Eccl=Ecclesiastes Song=Song_of_Solomon Isa=Isaiah "
    "Jer=Jeremiah Lam=Lamentations Ezek=Ezekiel Dan=Daniel Hos=Hosea Joel=Joel Amos=Amos "
    "Obad=Obadiah Jonah=Jonah Mic=Micah Nah=Nahum Hab=Habakkuk Zeph=Zephaniah "
    "Hag=Haggai Zech=Zechariah Mal=Malachi Tob=Tobit Jdt=Judith EsthGr=Esther_(Greek) "
    "AddEsth=Additions_to_Esther Wis=Wisdom_of_Solomon Sir=Sirach Bar=Baruch "
    "EpJer=Letter_of_Jeremiah PrAzar=Prayer_of_Azariah Sus=Susanna Bel=Bel_and_the_Dragon "
    "DanGr=Daniel_(Greek) 1Macc=1_Maccabees 2Macc=2_Maccabees 3Macc=3_Maccabees "
    "4Macc=4_Maccabees 1Esd=1_Esdras 2Esd=2_Esdras PrMan=Prayer_of_Manasses "
    "AddPs=Psalm_151 Matt=Matthew Mark=Mark Luke=Luke John=John Acts=Acts Rom=Romans "
    "1Cor=1_Corinthians 2Cor=2_Corinthians Gal=Galatians Eph=Ephesians "
    "Phil=Philippians Col=Colossians 1Thess=1_Thessalonians 2Thess=2_Thessalonians "
    "1Tim=1_Timothy 2Tim=2_Timothy Titus=Titus Phlm=Philemon Heb=Hebrews Jas=James "
    "1Pet=1_Peter 2Pet=2_Peter 1John=1_John 2John=2_John 3John=3_John Jude=Jude "
    "Rev=Revelation").split())


def attrs(tag):
    return dict(ATTR_RE.findall(tag))


def osis_to_text(s, keep_all_titles):
    """Strips OSIS markup. Returns text in which '\n' marks a paragraph or title break."""
    s = NOTE_RE.sub(" ", s)

    def title(m):
        a = attrs(m.group(1))
        if keep_all_titles or a.get("canonical") == "true":
            return "\n" + m.group(2) + "\n"
        return " "

    s = TITLE_RE.sub(title, s)
    s = BREAK_RE.sub("\n", s)
    s = KEYWORD_RE.sub(r"\1:", s)
    s = TAG_RE.sub("", s)
    s = USFM_OPEN_RE.sub("", s)
    s = USFM_CLOSE_RE.sub("", s)
    s = html.unescape(s).replace("\u00b6", " ")
    lines = []
    for line in s.split("\n"):
        line = " ".join(line.split())
        line = SPACE_BEFORE_PUNCT_RE.sub(r"\1", line)
        if line:
            lines.append(line)
    return "\n".join(lines)


def inline(s):
    return " ".join(osis_to_text(s, False).split("\n"))


def book_name(text_after_div, osis_id):
    for m in MILESTONE_H_RE.finditer(text_after_div):
        a = attrs(m.group(0))
        if a.get("type") == "x-usfm-h" and a.get("n"):
            return a["n"]
    for m in MILESTONE_H_RE.finditer(text_after_div):
        a = attrs(m.group(0))
        if a.get("type") == "x-usfm-toc2" and a.get("n"):
            return a["n"]
    return osis_id


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--expect-verses"):
        fail("usage: extract_sword.py SWORD_ROOT OUT_TXT [--expect-verses N]")
    root, out_path = argv[1], argv[2]
    expect = int(argv[4]) if len(argv) == 5 else None
    conf_path, conf = read_conf(root)
    if conf.get("ModDrv", "").lower() != "ztext":
        fail("%s: ModDrv=%s, only zText is supported" % (conf_path, conf.get("ModDrv")))
    if conf.get("CompressType", "ZIP").upper() != "ZIP":
        fail("%s: CompressType=%s, only ZIP is supported" % (conf_path, conf.get("CompressType")))
    if conf.get("SourceType", "OSIS").upper() != "OSIS":
        fail("%s: SourceType=%s, only OSIS is supported" % (conf_path, conf.get("SourceType")))
    if conf.get("Encoding", "UTF-8").upper() not in ("UTF-8", "UTF8"):
        fail("%s: Encoding=%s, only UTF-8 is supported" % (conf_path, conf.get("Encoding")))
    datadir = os.path.normpath(os.path.join(root, conf["DataPath"]))

    docs = []          # finished documents
    names = {}         # OSIS book id -> name, from the book headings seen so far
    state = {"chapter": None, "verses": 0, "books": 0, "chapters": 0}

    def close_chapter():
        chapter = state["chapter"]
        if chapter is not None:
            body = " ".join(t for t in chapter[1] if t)
            if body:
                docs.append(chapter[0] + "\n" + body)
        state["chapter"] = None

    def add_text(piece, is_verse):
        """Adds a piece of slot text to the open chapter, or as front/back matter."""
        if state["chapter"] is not None:
            text = inline(piece)
            if text:
                state["chapter"][1].append(text)
                if is_verse:
                    state["verses"] += 1
                    return True
        else:
            text = osis_to_text(piece, True)
            if text:
                docs.append(text)
        return False

    for prefix in ("ot", "nt"):
        slots = read_testament(datadir, prefix)
        for i, raw in enumerate(slots):
            if not raw:
                continue
            # A slot cut off inside a tag (seen in one WEB book heading): drop the stub.
            raw = PARTIAL_TAG_RE.sub("", raw)
            events = sorted([(m.start(), m.end(), "book", m.group(0)) for m in BOOK_RE.finditer(raw)] +
                            [(m.start(), m.end(), "end", m.group(0)) for m in BOOK_END_RE.finditer(raw)] +
                            [(m.start(), m.end(), "chapter", m.group(0)) for m in CHAPTER_RE.finditer(raw)])
            # Book and chapter heading slots hold no verse; every other slot is one verse.
            is_verse = i >= 2 and not any(e[2] != "end" for e in events)
            counted = False
            pos = 0
            for k, (start, end, kind, tag) in enumerate(events):
                if start < pos:
                    continue
                counted |= add_text(raw[pos:start], is_verse and not counted)
                pos = end
                a = attrs(tag)
                close_chapter()
                if kind == "book":
                    osis_id = a.get("osisID", "?")
                    names[osis_id] = book_name(raw[end:], osis_id)
                    state["books"] += 1
                    # The book's title block (milestones, main titles) up to the next
                    # event is not text of the book: skip it.
                    pos = events[k + 1][0] if k + 1 < len(events) else len(raw)
                elif kind == "chapter":
                    osis_id = a.get("osisID", "")
                    book_id, _, num = osis_id.rpartition(".")
                    num = a.get("n") or num
                    name = names.get(book_id) or OSIS_BOOKS.get(book_id, book_id)
                    state["chapter"] = ["%s %s" % (name, num), []]
                    state["chapters"] += 1
            counted |= add_text(raw[pos:], is_verse and not counted)
    close_chapter()
    n_books, n_chapters, n_verses = state["books"], state["chapters"], state["verses"]

    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(docs) + "\n")
    print("%s (%s): %d books, %d chapters, %d verses, %d documents" %
          (conf["Name"], conf.get("Version", "?"), n_books, n_chapters, n_verses, len(docs)))
    if expect is not None and n_verses != expect:
        fail("%s: expected %d verses, found %d" % (conf["Name"], expect, n_verses))


if __name__ == "__main__":
    main(sys.argv)
