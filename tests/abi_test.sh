#!/usr/bin/env bash
# abi_test: the shared libvlp exports exactly the functions include/vlp.h declares (VLP_API,
# -fvisibility=hidden): a public function without VLP_API, or a private symbol that leaks,
# fails here with its name.
# Usage: abi_test.sh LIBVLP_SO VLP_H
set -euo pipefail
lib=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Function names of the header: an identifier followed by "(" after preprocessing (function
# pointer typedefs are "(*name)(" and do not match).
${CC:-cc} -E -P -I"$(dirname "$header")" "$header" | grep -oE '\bvlp_[a-z0-9_]+ *\(' |
  tr -d '( ' | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBVWRi]$/ {print $3}' | sort -u >"$tmp/exported"
[ -s "$tmp/declared" ] || { echo "FAIL: no functions found in $header"; exit 1; }
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || { echo "FAIL: declared in vlp.h but not exported (VLP_API missing or not defined):" $missing; exit 1; }
[ -z "$extra" ] || { echo "FAIL: exported but not in vlp.h (a private symbol leaks):" $extra; exit 1; }
echo "ok: $(wc -l <"$tmp/exported") functions exported, all declared in vlp.h"
