#!/usr/bin/env bash
# safety_test: nothing lost, nothing overwritten, nothing silent (issue 14, data safety).
# usage: safety_test.sh PATH/TO/vlp SECTION   (run from tests/); one ctest test per SECTION.
set -u
VLP=$1
SECTION=$2
G=golden
CAP=$G/models/blip-caption-tiny
CLIP=$G/models/clip-tiny
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. ./testlib.sh

# --- sidecars never replace an input, an image or a video ---------------------------------------
sec_sidecar() {
  local D=$T/photos
  mkdir -p "$D"
  cp $G/images/coffee.jpg "$D/a.jpg"
  cp $G/images/rocket.jpg "$D/x.txt" # a JPEG named x.txt: an input of a folder run
  cp $G/images/astronaut.png "$D/x.png"
  cp $G/images/rocket.jpg "$D/b.png" # not an input below, but an image
  cp $G/images/coffee.jpg "$D/b.jpg"
  for ext in .jpg .png .JPEG .webp .mp4 .mkv; do
    expect_rc 2 "sidecar $ext refused" "$VLP" caption -m $CAP --sidecar=$ext --existing overwrite "$D"
    has err "image or video extension" "sidecar $ext message"
  done
  cmp -s "$D/a.jpg" $G/images/coffee.jpg && ok || bad "sidecar: a.jpg changed by a refused run"
  expect_rc 1 "sidecar: input named x.txt" "$VLP" caption -m $CAP --sidecar .txt --existing overwrite "$D/a.jpg" "$D/x.png" "$D/x.txt"
  cmp -s "$D/x.txt" $G/images/rocket.jpg && ok || bad "sidecar: the JPEG x.txt was overwritten"
  has err "x.txt is one of the inputs; not written" "sidecar: input conflict named"
  [ -s "$D/a.txt" ] && ok || bad "sidecar: a.txt (no conflict) not written"
  # an image that is not an input is not replaced either
  mv "$D/b.png" "$D/b.txt"
  expect_rc 1 "sidecar: image named b.txt" "$VLP" caption -m $CAP --sidecar .txt --existing overwrite "$D/b.jpg"
  cmp -s "$D/b.txt" $G/images/rocket.jpg && ok || bad "sidecar: the image b.txt was overwritten"
  has err "is an image; not written" "sidecar: image conflict named"
}

# --- merge: missing inputs, latest record wins, output format -----------------------------------
sec_merge() {
  local D=$T/m
  mkdir -p "$D"
  cp $G/images/coffee.jpg $G/images/rocket.jpg "$D/"
  "$VLP" caption -m $CAP -q "$D" -o "$T/a.jsonl"
  expect_rc 2 "merge: missing input" "$VLP" merge -o "$T/out.jsonl" "$T/a.jsonl" "$T/missing.jsonl"
  has err "missing.jsonl" "merge: missing input named"
  [ ! -e "$T/out.jsonl" ] && ok || bad "merge: output written despite a missing input"
  expect_rc 2 "merge: missing input (OUT IN form)" "$VLP" merge "$T/out.jsonl" "$T/nothere.jsonl"
  [ ! -e "$T/out.jsonl" ] && ok || bad "merge: output written despite a missing input (OUT IN)"
  # a resumed run re-captions a changed file: its new record comes later and wins
  sleep 0.01
  cp $G/images/astronaut.png "$D/coffee.jpg"
  "$VLP" caption -m $CAP -q "$D" -o "$T/a.jsonl"
  [ "$(grep -c coffee.jpg "$T/a.jsonl")" = 2 ] && ok || bad "merge: resume did not append a new record"
  local latest
  latest=$(grep coffee.jpg "$T/a.jsonl" | tail -n 1)
  expect_rc 0 "merge: resumed file" "$VLP" merge -o "$T/out.jsonl" "$T/a.jsonl"
  lines out 0 "merge: nothing on stdout"
  [ "$(grep coffee.jpg "$T/out.jsonl")" = "$latest" ] && ok || bad "merge: kept an older record: $(grep coffee.jpg "$T/out.jsonl")"
  [ "$(wc -l <"$T/out.jsonl")" = 2 ] && ok || bad "merge: 2 records expected"
  has err "1 duplicates dropped: older records replaced" "merge: replaced records counted"
  # the later input wins too
  "$VLP" caption -m $CAP -q --prompt "a picture of" "$D/rocket.jpg" -o "$T/b.jsonl"
  expect_rc 0 "merge: two inputs" "$VLP" merge -o "$T/two.jsonl" "$T/a.jsonl" "$T/b.jsonl"
  [ "$(grep rocket.jpg "$T/two.jsonl")" = "$(cat "$T/b.jsonl")" ] && ok || bad "merge: later input did not win"
  # an error record never replaces a caption
  printf '{"path": "%s", "error": "gone"}\n' "$D/rocket.jpg" >"$T/err.jsonl"
  expect_rc 0 "merge: error after caption" "$VLP" merge -o "$T/e.jsonl" "$T/b.jsonl" "$T/err.jsonl"
  grep -q '"caption"' "$T/e.jsonl" && ok || bad "merge: an error replaced a caption"
  # output format from the extension, or --format
  expect_rc 0 "merge: -o out.csv" "$VLP" merge -o "$T/out.csv" "$T/a.jsonl"
  [ "$(head -n 1 "$T/out.csv")" = "path,caption,tokens,size,mtime,error" ] && ok || bad "merge -o out.csv: not CSV: $(head -n 2 "$T/out.csv")"
  [ "$(wc -l <"$T/out.csv")" = 3 ] && ok || bad "merge -o out.csv: 3 lines expected"
  grep -q "^$D/rocket.jpg,[^,]*,30522 [0-9 ]*,[0-9]*,[0-9]*\.[0-9]\{9\},$" "$T/out.csv" && ok || bad "merge csv: record fields: $(cat "$T/out.csv")"
  expect_rc 0 "merge: --format tsv" "$VLP" merge --format tsv -o "$T/out.txt" "$T/a.jsonl"
  has out.txt "$(printf 'path\tcaption')" "merge --format tsv: header"
  # converting back gives the same JSON Lines (mtime nanoseconds kept)
  expect_rc 0 "merge: csv -> jsonl" "$VLP" merge -o "$T/back.jsonl" "$T/out.csv"
  cmp -s "$T/back.jsonl" "$T/out.jsonl" && ok || bad "merge: csv -> jsonl differs: $(diff "$T/back.jsonl" "$T/out.jsonl" | head -5)"
  expect_rc 2 "merge: bad --format" "$VLP" merge --format xml -o "$T/x" "$T/a.jsonl"
}

sec_"$SECTION"
echo "$SECTION: $pass passed, $fail failed"
[ "$fail" = 0 ]
