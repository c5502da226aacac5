#!/usr/bin/env bash
# Fetches the fathom-tiny training corpus from Debian packages and writes it as plain text.
#
# Usage: fetch-corpus.sh OUT_DIR
#
# Downloads (apt-get download, no root needed) the packages listed below into
# OUT_DIR/debs, unpacks them with dpkg-deb -x into OUT_DIR/root/PKG, checks that each
# package's copyright file still states the licence recorded here, and writes
#   OUT_DIR/text/SOURCE.txt   UTF-8, one document per paragraph, documents separated
#                             by one blank line
#   OUT_DIR/SOURCES.tsv       source, package, version, licence, docs, chars
# The same package versions give byte-identical text files. Nothing is installed and
# nothing is fetched from anywhere but the machine's apt sources. See DATA.md.
set -euo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
export LC_ALL=C.UTF-8
out=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$out/debs" "$out/root" "$out/text"

# package | licence | phrase that its copyright file must contain
packages=(
    "sword-text-web|public domain|The World English Bible is in the Public Domain"
    "sword-text-kjv|public domain|this work is firmly in the Public Domain"
    "wordnet-base|WordNet 3.0 licence (permissive)|Permission to use, copy, modify and distribute this software and"
    "fortunes|BSD (4.4BSD, advertising clause deleted)|This program falls under the BSD copyright"
    "fortunes-min|BSD (4.4BSD, advertising clause deleted)|This program falls under the BSD copyright"
    "fortunes-debian-hints|BSD-3-clause|License: BSD-3-clause"
    "dict-jargon|public domain|This document (the Jargon File) is in the public domain"
    "dict-devil|public domain|The Devil's Dictionary is in the public domain"
)
# The Python documentation comes in a package named after the Python version
# (python3.11-doc in Debian 12); python3-doc depends on the current one.
pydoc=$(apt-cache depends python3-doc 2>/dev/null | sed -n 's/^ *Depends: \(python3\.[0-9]*-doc\)$/\1/p' | head -n 1)
if [[ -n $pydoc ]]; then
    packages+=("$pydoc|PSF License Agreement version 2 (permissive)|PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2")
else
    echo "warning: python3-doc is not in this machine's apt sources; Python docs skipped" >&2
fi

declare -A version licence
for entry in "${packages[@]}"; do
    IFS='|' read -r pkg lic phrase <<<"$entry"
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        echo "warning: $pkg is not in this machine's apt sources (run apt-get update?); skipped" >&2
        continue
    fi
    (
        cd "$out/debs"
        rm -f "${pkg}"_*.deb
        apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
    )
    deb=$(find "$out/debs" -maxdepth 1 -name "${pkg}_*.deb" | LC_ALL=C sort | tail -n 1)
    if [[ -z $deb ]]; then
        echo "error: apt-get download $pkg produced no .deb" >&2
        exit 1
    fi
    version[$pkg]=$(dpkg-deb -f "$deb" Version)
    licence[$pkg]=$lic
    rm -rf "${out:?}/root/$pkg"
    dpkg-deb -x "$deb" "$out/root/$pkg"
    copyright="$out/root/$pkg/usr/share/doc/$pkg/copyright"
    if ! grep -qF "$phrase" "$copyright"; then
        echo "error: $copyright no longer says \"$phrase\"; review the licence before using $pkg" >&2
        exit 1
    fi
    echo "fetched $pkg ${version[$pkg]} ($lic)"
done

have() { [[ -n ${version[$1]:-} ]]; }
text="$out/text"
games=usr/share/games/fortunes

# Regular strfile text files in a fortune directory (those with a .dat index), sorted;
# symlinks (the *.u8 aliases) are skipped, as are the names given after the directory.
fortune_files() {
    local dir=$1
    shift
    local f name
    while IFS= read -r f; do
        name=${f%.dat}
        [[ -f $name && ! -L $name ]] || continue
        case " $* " in *" $(basename "$name") "*) continue ;; esac
        echo "$name"
    done < <(find "$dir" -maxdepth 1 -type f -name '*.dat' | LC_ALL=C sort)
}

sources=()
add() { sources+=("$1|$2"); }

if have sword-text-web; then
    $py "$here/extract_sword.py" "$out/root/sword-text-web/usr/share/sword" "$text/web.txt"
    add web sword-text-web
fi
if have sword-text-kjv; then
    $py "$here/extract_sword.py" "$out/root/sword-text-kjv/usr/share/sword" "$text/kjv.txt" --expect-verses 31102
    add kjv sword-text-kjv
fi
if have wordnet-base; then
    $py "$here/extract_text.py" wordnet "$text/wordnet.txt" "$out/root/wordnet-base/usr/share/wordnet"
    add wordnet wordnet-base
fi
if have fortunes; then
    # ascii-art holds pictures, not text.
    mapfile -t files < <(fortune_files "$out/root/fortunes/$games" ascii-art)
    $py "$here/extract_text.py" fortune "$text/fortunes.txt" "${files[@]}"
    add fortunes fortunes
fi
if have fortunes-min; then
    mapfile -t files < <(fortune_files "$out/root/fortunes-min/$games")
    $py "$here/extract_text.py" fortune "$text/fortunes-min.txt" "${files[@]}"
    add fortunes-min fortunes-min
fi
if have fortunes-debian-hints; then
    $py "$here/extract_text.py" fortune "$text/debian-hints.txt" \
        "$out/root/fortunes-debian-hints/$games/debian-hints"
    add debian-hints fortunes-debian-hints
    $py "$here/extract_text.py" fortune "$text/debian-hints-zh.txt" \
        "$out/root/fortunes-debian-hints/$games/zh_CN/debian-hints" \
        "$out/root/fortunes-debian-hints/$games/zh_TW/debian-hints"
    add debian-hints-zh fortunes-debian-hints
fi
if have dict-jargon; then
    $py "$here/extract_text.py" dictd "$text/jargon.txt" \
        "$out/root/dict-jargon/usr/share/dictd/jargon.index" \
        "$out/root/dict-jargon/usr/share/dictd/jargon.dict.dz" 4
    add jargon dict-jargon
fi
if have dict-devil; then
    $py "$here/extract_text.py" dictd "$text/devil.txt" \
        "$out/root/dict-devil/usr/share/dictd/devil.index" \
        "$out/root/dict-devil/usr/share/dictd/devil.dict.dz" 0 --underscore-italics
    add devil dict-devil
fi

if [[ -n $pydoc ]] && have "$pydoc"; then
    $py "$here/extract_rst.py" "$text/python-docs.txt" \
        "$out/root/$pydoc/usr/share/doc/${pydoc%-doc}/html/_sources"
    add python-docs "$pydoc"
fi

if [[ ${#sources[@]} -eq 0 ]]; then
    echo "error: no source package could be fetched" >&2
    exit 1
fi

tsv="$out/SOURCES.tsv"
printf 'source\tpackage\tversion\tlicence\tdocs\tchars\n' >"$tsv"
echo
printf '%-16s %-22s %-18s %9s %11s %11s  %s\n' source package version docs chars bytes licence
total_docs=0 total_chars=0 total_bytes=0
for s in "${sources[@]}"; do
    IFS='|' read -r src pkg <<<"$s"
    read -r docs chars bytes < <($py "$here/extract_text.py" stats "$text/$src.txt")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$src" "$pkg" "${version[$pkg]}" "${licence[$pkg]}" "$docs" "$chars" >>"$tsv"
    printf '%-16s %-22s %-18s %9d %11d %11d  %s\n' "$src" "$pkg" "${version[$pkg]}" "$docs" "$chars" "$bytes" "${licence[$pkg]}"
    total_docs=$((total_docs + docs)) total_chars=$((total_chars + chars)) total_bytes=$((total_bytes + bytes))
done
printf '%-16s %-22s %-18s %9d %11d %11d\n' total "" "" "$total_docs" "$total_chars" "$total_bytes"
echo "wrote $text/*.txt and $tsv"
