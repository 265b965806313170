#!/usr/bin/env bash
# captool_test: `vlp caption` as dataset tooling — recursive walk with bad files and a
# symlink loop, resume after kill -9, shards + vlp merge, sidecar modes, --batch
# independence, CSV/TSV quoting — on the golden tiny captioning model.
# usage: captool_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT # the tests below chmod 000
CAP=$M/blip-caption-tiny
check() { if eval "$2"; then ok; else bad "$1"; fi; }
run() {
  "$@" >"$T/out" 2>"$T/err"
  echo $? >"$T/rc"
  if grep -qE "Sanitizer|runtime error" "$T/err"; then bad "sanitizer report: $*: $(grep -m 3 -E "Sanitizer|runtime error" "$T/err")"; fi
}
rc() { cat "$T/rc"; }
caption_of() { sed -n 's/.*"caption": "\([^"]*\)".*/\1/p' "$1" | head -n 1; }
paths_of() { sed -n 's/^{"path": "\([^"]*\)".*/\1/p' "$1" | sort; }

# --- a folder with good, corrupt, empty, unreadable files and a symlink loop ----------------
D=$T/set
mkdir -p "$D/sub/deeper"
cp $G/images/astronaut.png $G/images/coffee.jpg $G/images/rocket.jpg "$D/"
cp $G/images/camera_gray.png "$D/sub/"
cp $G/images/grass_gray.png "$D/sub/deeper/no_extension"  # found by its magic bytes
cp $G/images/edge_progressive.jpg "$D/sub/deeper/"
head -c 5000 $G/images/chelsea_cat.png >"$D/truncated.png"
echo "this is not a jpeg" >"$D/garbage.jpg"
: >"$D/empty.png"
printf 'GIF89a\001\000\001\000\000\000\000;' >"$D/anim.gif"
echo "notes" >"$D/notes.txt"                                # skipped: not an image
: >"$D/sub/empty.log"                                       # skipped: not an image
ln -s .. "$D/sub/deeper/loop"                               # symlink loop
ln -s "$D/sub" "$D/sub_again"                               # a folder reached twice
ln -s missing.png "$D/dangling.png"                         # skipped and named: dangling symlink
mkfifo "$D/fifo.jpg"                                        # unreadable: not a regular file
GOOD=6
BADS="truncated.png garbage.jpg empty.png anim.gif fifo.jpg"
if [ "$(id -u)" != 0 ]; then
  cp $G/images/coffee.jpg "$D/locked.jpg" && chmod 000 "$D/locked.jpg"
  mkdir "$D/closed" && cp $G/images/coffee.jpg "$D/closed/" && chmod 000 "$D/closed"
  BADS="$BADS locked.jpg closed"
else
  echo "note: running as root: chmod 000 does not stop root; unreadable = FIFO"
fi
NBAD=$(echo $BADS | wc -w)

run "$VLP" caption -m $CAP -r "$D" -o "$T/set.jsonl"
check "walk: exit 1 with bad files (got $(rc); $(head -c 300 "$T/err"))" '[ "$(rc)" = 1 ]'
check "walk: $GOOD images captioned" '[ "$(grep -c "\"caption\"" "$T/set.jsonl")" = $GOOD ]'
check "walk: $NBAD error records" '[ "$(grep -c "\"error\"" "$T/set.jsonl")" = $NBAD ]'
for b in $BADS; do
  check "walk: $b reported on stderr" 'grep -q "$b" "$T/err"'
  check "walk: $b has an error record" 'grep -q "\"path\": \"[^\"]*/$b\", \"error\"" "$T/set.jsonl"'
done
check "walk: file without extension found by magic bytes" 'grep -q "no_extension\", \"caption\"" "$T/set.jsonl"'
check "walk: notes.txt skipped" '! grep -q notes.txt "$T/set.jsonl"'
check "walk: symlink loop named" 'grep -q "loop: folder already walked" "$T/err"'
check "walk: each image once" '[ "$(paths_of "$T/set.jsonl" | uniq -d | wc -l)" = 0 ]'
check "walk: summary" 'grep -qE "$GOOD captioned, [0-9]+ skipped \(2 not images, 1 dangling symlinks, 2 repeated\), $NBAD failed" "$T/err"'
check "walk: dangling symlink named" 'grep -q "dangling.png: dangling symlink (its target is missing), skipped" "$T/err"'
check "walk: dangling symlink has no record" '! grep -q "dangling.png" "$T/set.jsonl"'
check "walk: size and mtime fields" 'grep -q "\"tokens\": \[[0-9, ]*\], \"size\": [0-9]*, \"mtime\": [0-9]*\.[0-9]\{9\}}" "$T/set.jsonl"'
check "walk: golden tokens (astronaut/prompt0)" 'grep -q "astronaut.png\", \"caption\": \"[^\"]*\", \"tokens\": \[30522, 13195, 14577, 25063, 5258, 27010, 2975, 14958, 26341, 27010, 2975, 102\]" "$T/set.jsonl"'
check "walk: captions cut by the length limit counted" 'grep -qE "[0-9]+ of $GOOD captions reached the length limit \(20 tokens\) before \[SEP\].*--max-new-tokens 40" "$T/err"'
# the same walk twice gives the same records in the same order (deterministic)
run "$VLP" caption -m $CAP -r "$D" --no-resume -o "$T/set2.jsonl"
check "walk: deterministic order" 'cmp -s "$T/set.jsonl" "$T/set2.jsonl"'
# --batch 8 equals --batch 1, byte for byte, errors interleaved in input order
run "$VLP" caption -m $CAP -r "$D" --batch 8 --no-resume -o "$T/set8.jsonl"
check "walk: --batch 8 == --batch 1" 'cmp -s "$T/set.jsonl" "$T/set8.jsonl"'
run "$VLP" caption -m $CAP -r "$D" --batch 3 --prompt "a picture of" -o "$T/p3.jsonl"
run "$VLP" caption -m $CAP -r "$D" --batch 1 --prompt "a picture of" -o "$T/p1.jsonl"
check "walk: --batch 3 == --batch 1 with a prompt" 'cmp -s "$T/p1.jsonl" "$T/p3.jsonl"'
# second run: everything captioned is already there; errors are tried again
run "$VLP" caption -m $CAP -r "$D" -o "$T/set.jsonl"
check "resume: nothing new captioned" 'grep -q "0 captioned, [0-9]* skipped ($GOOD already in the output" "$T/err"'
check "resume: errors retried" '[ "$(grep -c "\"error\"" "$T/set.jsonl")" = $((2 * NBAD)) ]'
# a flat folder (no -r): its images by content; other files skipped and counted (issue 14)
run "$VLP" caption -m $CAP "$D/sub"
check "flat folder: camera_gray only, empty.log skipped" '[ "$(wc -l <"$T/out")" = 1 ] && ! grep -q "empty.log" "$T/out" && grep -q "(1 not images)" "$T/err"'

# --- --from lists ----------------------------------------------------------------------------
printf '%s\n\n%s\r\n' "$D/coffee.jpg" "$D/sub" | "$VLP" caption -m $CAP --from - >"$T/out" 2>"$T/err"
check "--from -: file + flat folder (2 records)" '[ "$(wc -l <"$T/out")" = 2 ]'
check "--from -: list order kept" '[ "$(head -n 1 "$T/out" | grep -c coffee.jpg)" = 1 ]'
run "$VLP" caption -m $CAP --from "$T/no-such-list"
check "--from missing list: exit 2" '[ "$(rc)" = 2 ]'

# --- resume after kill -9 ---------------------------------------------------------------------
K=$T/many
mkdir "$K"
imgs=(astronaut.png coffee.jpg rocket.jpg camera_gray.png coins_gray.png edge_cmyk.jpg)
for i in $(seq 0 29); do
  f=${imgs[$((i % 6))]}
  cp "$G/images/$f" "$K/$(printf '%02d' $i)_$f"
done
SLOW="--batch 1 --threads 1 --image-size 384"
"$VLP" caption -m $CAP $SLOW -q "$K" -o "$T/full.jsonl" 2>/dev/null
"$VLP" caption -m $CAP $SLOW -q "$K" -o "$T/killed.jsonl" 2>/dev/null &
pid=$!
for _ in $(seq 1 3000); do
  [ -f "$T/killed.jsonl" ] && [ "$(wc -l <"$T/killed.jsonl")" -ge 3 ] && break
  sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n_killed=$(wc -l <"$T/killed.jsonl")
if [ "$n_killed" -lt 30 ]; then ok; else echo "note: the run finished before the kill ($n_killed lines)"; fi
printf '{"path": "%s/29_edge_cmyk.jpg", "capt' "$K" >>"$T/killed.jsonl"  # a record cut mid-write
run "$VLP" caption -m $CAP $SLOW "$K" -o "$T/killed.jsonl"
check "resume after kill: exit 0 (got $(rc))" '[ "$(rc)" = 0 ]'
check "resume after kill: $n_killed skipped" 'grep -q "skipped ($n_killed already in the output)" "$T/err"'
check "resume after kill: same records as one run" 'cmp -s <(sort "$T/full.jsonl") <(sort "$T/killed.jsonl")'
check "resume after kill: 30 lines" '[ "$(wc -l <"$T/killed.jsonl")" = 30 ]'
# a touched file is captioned again (its mtime changed)
touch -d '2001-01-01 00:00:00' "$K/00_astronaut.png"
run "$VLP" caption -m $CAP "$K" -o "$T/killed.jsonl"
check "resume: changed file captioned again" 'grep -q "^vlp caption: 1 captioned, 29 skipped" "$T/err"'
echo "this is not vlp output" >"$T/foreign.txt"
run "$VLP" caption -m $CAP "$K" -o "$T/foreign.txt"
check "resume: refuses a file that is not vlp output" '[ "$(rc)" = 2 ] && grep -q "not a vlp caption output" "$T/err"'

# --- shards and merge --------------------------------------------------------------------------
"$VLP" caption -m $CAP -q "$K" -o "$T/all.jsonl"
for k in 1 2 3; do "$VLP" caption -m $CAP -q --shard $k/3 "$K" -o "$T/s$k.jsonl"; done
check "shards: each takes some" '[ -s "$T/s1.jsonl" ] && [ -s "$T/s2.jsonl" ] && [ -s "$T/s3.jsonl" ]'
check "shards: disjoint, together all" '[ "$(cat "$T"/s?.jsonl | wc -l)" = 30 ] && [ "$(paths_of <(cat "$T"/s?.jsonl) | uniq -d | wc -l)" = 0 ]'
run "$VLP" merge "$T/merged.jsonl" "$T/s1.jsonl" "$T/s2.jsonl" "$T/s3.jsonl" "$T/s2.jsonl"
check "merge: exit 0" '[ "$(rc)" = 0 ]'
check "merge: shards merged == unsharded" 'cmp -s "$T/merged.jsonl" <(LC_ALL=C sort "$T/all.jsonl")'
check "merge: duplicates dropped" 'grep -q "(10 duplicates dropped)" "$T/err" || grep -qE "\([0-9]+ duplicates dropped" "$T/err"'
check "merge: sorted by path" 'cmp -s <(paths_of "$T/merged.jsonl") <(sed -n "s/^{\"path\": \"\([^\"]*\)\".*/\1/p" "$T/merged.jsonl")'
# stable under adding files elsewhere: shard 1's old members stay in shard 1
cp "$G/images/rocket.jpg" "$K/zz_new.jpg"
"$VLP" caption -m $CAP -q --shard 1/3 "$K" -o "$T/s1b.jsonl"
check "shards: stable when files are added" '[ -z "$(comm -23 <(paths_of "$T/s1.jsonl") <(paths_of "$T/s1b.jsonl"))" ]'
rm "$K/zz_new.jpg"
run "$VLP" caption -m $CAP --shard 4/3 "$K"
check "--shard 4/3: usage error" '[ "$(rc)" = 2 ]'

# --- sidecars -----------------------------------------------------------------------------------
S=$T/side
mkdir "$S"
cp $G/images/astronaut.png "$S/a.png"
cp $G/images/coffee.jpg "$S/b.jpg"
"$VLP" caption -m $CAP "$S/a.png" >"$T/a.jsonl" 2>/dev/null
"$VLP" caption -m $CAP "$S/b.jpg" >"$T/b.jsonl" 2>/dev/null
CA=$(caption_of "$T/a.jsonl")
CB=$(caption_of "$T/b.jsonl")
printf 'old text\n\n' >"$S/b.txt"
run "$VLP" caption -m $CAP -r --sidecar "$S"
check "sidecar: exit 0" '[ "$(rc)" = 0 ]'
check "sidecar: no records on stdout" '[ ! -s "$T/out" ]'
check "sidecar: a.txt = caption" '[ "$(cat "$S/a.txt")" = "$CA" ]'
check "sidecar skip: b.txt kept" '[ "$(cat "$S/b.txt")" = "old text" ]'
check "sidecar skip: counted" 'grep -q "1 sidecar exists" "$T/err"'
check "sidecar: the .txt files are not taken as images" '! grep -q "a.txt" "$T/err"'
cp "$S/a.txt" "$T/a.keep"
run "$VLP" caption -m $CAP -r --sidecar --existing append "$S/b.jpg"
check "sidecar append" '[ "$(cat "$S/b.txt")" = "old text, $CB" ]'
printf 'old text\n' >"$S/b.txt"
run "$VLP" caption -m $CAP --sidecar --existing prepend --sidecar-join " | " "$S/b.jpg"
check "sidecar prepend with --sidecar-join" '[ "$(cat "$S/b.txt")" = "$CB | old text" ]'
run "$VLP" caption -m $CAP --sidecar --existing overwrite "$S/b.jpg"
check "sidecar overwrite" '[ "$(cat "$S/b.txt")" = "$CB" ]'
run "$VLP" caption -m $CAP --sidecar .caption "$S/a.png" -o "$T/side.jsonl"
check "sidecar .caption" '[ "$(cat "$S/a.caption")" = "$CA" ]'
check "sidecar with -o: records written" '[ "$(grep -c "\"caption\"" "$T/side.jsonl")" = 1 ]'
check "sidecar: no temp files left" '[ -z "$(ls -A "$S" | grep vlp-tmp)" ]'
cp $G/images/rocket.jpg "$S/a.jpg"
run "$VLP" caption -m $CAP --sidecar --existing overwrite "$S"
check "sidecar: shared stem warned" 'grep -q "warning: .*a.jpg and .*a.png share the sidecar .*a.txt" "$T/err"'
run "$VLP" caption -m $CAP --existing overwrite "$S/a.png"
check "--existing without --sidecar: usage error" '[ "$(rc)" = 2 ]'

# --- CSV / TSV ------------------------------------------------------------------------------------
Q=$T/quote
mkdir "$Q"
cp $G/images/astronaut.png "$Q/we,ird\"name.png"
cp $G/images/coffee.jpg "$Q/tab	here.jpg"
cp $G/images/rocket.jpg "$Q/new
line.jpg"
run "$VLP" caption -m $CAP --prompt 'a "quoted", thing' "$Q" -o "$T/q.csv"
check "csv: exit 0" '[ "$(rc)" = 0 ]'
check "csv: header" '[ "$(head -n 1 "$T/q.csv")" = "path,caption,tokens,size,mtime,error" ]'
check "csv: quoted path" 'grep -qF "\"$Q/we,ird\"\"name.png\",\"a \"\" quoted \"\", thing" "$T/q.csv"'
check "csv: line break inside quotes" 'grep -qF "\"$Q/new" "$T/q.csv"'
check "csv: tokens column" 'grep -qE ",30522 1037 [0-9 ]+,[0-9]+,[0-9]+\.[0-9]{9}," "$T/q.csv"'
run "$VLP" caption -m $CAP --prompt 'a "quoted", thing' "$Q" -o "$T/q.csv"
check "csv: resume parses quoted records" 'grep -q "0 captioned, 3 skipped (3 already" "$T/err"'
run "$VLP" caption -m $CAP --format tsv "$Q" -o "$T/q.out"
check "tsv: header" '[ "$(head -n 1 "$T/q.out")" = "$(printf "path\tcaption\ttokens\tsize\tmtime\terror")" ]'
check "tsv: tab escaped" 'grep -qF "$Q/tab\\there.jpg	" "$T/q.out"'
check "tsv: newline escaped" 'grep -qF "$Q/new\\nline.jpg	" "$T/q.out"'
check "tsv: 4 lines" '[ "$(wc -l <"$T/q.out")" = 4 ]'
run "$VLP" caption -m $CAP "$Q" -o "$T/q.out"
check "tsv: resume keeps the file's format" 'grep -q "0 captioned, 3 skipped" "$T/err"'
run "$VLP" caption -m $CAP --format xml "$Q"
check "--format xml: usage error" '[ "$(rc)" = 2 ]'
"$VLP" caption -m $CAP -q "$Q" --shard 1/2 -o "$T/qa.csv" 2>/dev/null
"$VLP" caption -m $CAP -q "$Q" --shard 2/2 -o "$T/qb.csv" 2>/dev/null
"$VLP" caption -m $CAP -q "$Q" -o "$T/qall.csv" 2>/dev/null
run "$VLP" merge "$T/qm.csv" "$T/qa.csv" "$T/qb.csv"
check "merge csv: header once, 3 records" '[ "$(grep -c "^path,caption" "$T/qm.csv")" = 1 ] && [ "$(grep -c "30522" "$T/qm.csv")" = 3 ]'
run "$VLP" merge "$T/mixed" "$T/qa.csv" "$T/all.jsonl"
check "merge: mixed formats refused" '[ "$(rc)" = 2 ]'

# --- progress and quiet -------------------------------------------------------------------------
run "$VLP" caption -m $CAP -q "$D/astronaut.png"
check "--quiet: nothing on stderr" '[ ! -s "$T/err" ]'
if command -v script >/dev/null; then
  script -qec "$VLP caption -m $CAP $K -o $T/tty.jsonl" /dev/null >"$T/tty" 2>&1
  check "terminal: a progress bar" 'grep -q "\[#*\.*\] [0-9]*/30 " "$T/tty"'
fi

finish
