#!/usr/bin/env bash
# install_test: `cmake --install` into a temporary prefix, then a program that knows only the
# installed tree (tests/install/consumer.c) is built against it with pkg-config (shared and
# static libvlp) and with find_package(vlp) (vlp::vlp, vlp::vlp_static). Every build must
# give the installed vlp command's caption and embedding.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR   (run from tests/)
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/vlp include/vlp.h lib/libvlp.a lib/libvlp.so lib/pkgconfig/vlp.pc \
  lib/cmake/vlp/vlpConfig.cmake lib/cmake/vlp/vlpConfigVersion.cmake; do
  [ -e "$prefix/$f" ] || fail "cmake --install did not put $f"
done
major=$(sed -n 's/^#define VLP_VERSION_MAJOR \([0-9]*\)$/\1/p' "$prefix/include/vlp.h")
[ -e "$prefix/lib/libvlp.so.$major" ] || fail "no lib/libvlp.so.$major"
# (outputs are captured first: grep -q closing a pipe early would fail it under pipefail)
dyn=$(objdump -p "$prefix/lib/libvlp.so")
grep -q "SONAME *libvlp.so.$major$" <<<"$dyn" ||
  fail "libvlp.so's SONAME is not libvlp.so.$major"

cap=golden/models/blip-caption-tiny clip=golden/models/clip-tiny
img=golden/images/chelsea_cat.png text="a photo of a cat"
# What the installed command says: the caption and the first 4 embedding values.
want_caption=$("$prefix/bin/vlp" caption -m $cap "$img" 2>/dev/null |
  python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["caption"])')
want_embed=$("$prefix/bin/vlp" embed -m $clip --text "$text" |
  python3 -c 'import json,sys; e=json.loads(sys.stdin.readline())["embedding"]; print(len(e), *("%.6f" % x for x in e[:4]))')

check() { # check NAME PROGRAM: run it and compare with the installed command
  local out
  out=$(LD_LIBRARY_PATH="$prefix/lib" "$2" $cap $clip "$img" "$text") || fail "$1 failed"
  grep -qx "caption $want_caption" <<<"$out" || fail "$1: caption differs: $out"
  grep -qx "embedding $want_embed" <<<"$out" || fail "$1: embedding differs: $out (want $want_embed)"
  grep -qE '^tokens [0-9]+$' <<<"$out" || fail "$1: no token count: $out"
  echo "ok: $1"
}

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc=${CC:-cc}
$cc -o "$tmp/pc_shared" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs vlp)
libs=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/pc_shared")
grep -q "libvlp.so.$major => $prefix/lib/" <<<"$libs" ||
  fail "pc_shared does not link the shared libvlp.so.$major"
check "pkg-config, shared" "$tmp/pc_shared"
# Static libvlp with the system's shared libraries: libvlp.a, then what Requires.private and
# Libs.private name (`pkg-config --static` would also ask for static copies of their own
# dependencies, which Debian does not ship for every library).
$cc -o "$tmp/pc_static" "$src/tests/install/consumer.c" $(pkg-config --cflags vlp) \
  "$prefix/lib/libvlp.a" $(pkg-config --libs $(pkg-config --print-requires-private vlp)) \
  $(pkg-config --variable=static_extra vlp)
libs=$(ldd "$tmp/pc_static")
grep -q libvlp <<<"$libs" && fail "pc_static links libvlp dynamically"
check "pkg-config, static" "$tmp/pc_static"

cmake -S "$src/tests/install" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
check "find_package, vlp::vlp" "$tmp/cm/consumer_shared"
check "find_package, vlp::vlp_static" "$tmp/cm/consumer_static"

# The README's "Use it from C" program, exactly as printed there, built with pkg-config.
python3 - "$src/README.md" "$tmp/readme.c" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
part = text[text.index("## Use it from C"):]
code = re.search(r"```c\n(.*?)```", part, re.S).group(1)
open(sys.argv[2], "w").write(code)
PY
$cc -o "$tmp/readme" "$tmp/readme.c" $(pkg-config --cflags --libs vlp) ||
  fail "the README's C program does not compile against the installed libvlp"
out=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/readme" $cap $clip "$img" "$text") ||
  fail "the README's C program failed: $out"
grep -qx "caption: $want_caption" <<<"$out" || fail "README program: caption differs: $out"
first=$(cut -d' ' -f2 <<<"$want_embed")
grep -qx "embedding\[0\]: $first" <<<"$out" || fail "README program: embedding differs: $out"
echo "ok: the README's C program"
