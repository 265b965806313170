#!/usr/bin/env bash
# index_merge_test: shard indexes built by a job array (--shard auto with Slurm's variables)
# and joined with `vlp index merge` answer searches exactly as one index of all the files;
# indexes of different models are refused; the inputs are left as they were.
# Usage: index_merge_test.sh VLP   (run from tests/)
set -euo pipefail
vlp=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir "$tmp/photos"
for f in chelsea_cat.png astronaut.png coffee.jpg camera_gray.png coins_gray.png; do
  cp "golden/images/$f" "$tmp/photos/$f"
done
clip=golden/models/clip-tiny
"$vlp" index build -m $clip -o "$tmp/whole" "$tmp/photos" >/dev/null 2>&1
for id in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 \
    "$vlp" index build -m $clip --shard auto -o "$tmp/part$id" "$tmp/photos" >/dev/null 2>&1 ||
    [ $? = 1 ] || fail "shard $id did not build"
done
sum=$("$vlp" index merge -o "$tmp/merged" "$tmp/part0" "$tmp/part1" "$tmp/part2")
grep -q '"count": 5, "inputs": 3, "replaced": 0' <<<"$sum" || fail "merge said: $sum"
for q in "a cat" "a cup of coffee"; do
  "$vlp" search "$tmp/whole" "$q" -k 5 >"$tmp/want"
  "$vlp" search "$tmp/merged" "$q" -k 5 >"$tmp/got"
  diff "$tmp/want" "$tmp/got" || fail "search '$q' differs between merged and whole"
done
echo "ok: 3 shard indexes merged, searches equal the whole index's"

# an empty shard (a folder with no images) is an empty index, and merges as one
mkdir "$tmp/none"
"$vlp" index build -m $clip -o "$tmp/empty" "$tmp/none" >/dev/null 2>&1 || fail "empty index did not build"
sum=$("$vlp" index merge -o "$tmp/with-empty" "$tmp/empty" "$tmp/whole")
grep -q '"count": 5, "inputs": 2, "replaced": 0' <<<"$sum" || fail "merge with an empty index: $sum"
sum=$("$vlp" index merge -o "$tmp/all-empty" "$tmp/empty" "$tmp/empty")
grep -q '"count": 0, "inputs": 2' <<<"$sum" || fail "merge of empty indexes: $sum"
echo "ok: empty indexes build and merge"

# the same path in two inputs: the last input's row wins, counted as replaced
sum=$("$vlp" index merge -o "$tmp/twice" "$tmp/whole" "$tmp/merged")
grep -q '"count": 5, "inputs": 2, "replaced": 5' <<<"$sum" || fail "overlap: $sum"

"$vlp" index build -m golden/models/blip-itm-tiny -o "$tmp/blip" "$tmp/photos" >/dev/null 2>&1
before=$(ls -l "$tmp/part0")
if err=$("$vlp" index merge -o "$tmp/bad" "$tmp/part0" "$tmp/blip" 2>&1); then
  fail "merged indexes of different models"
fi
grep -q "different models" <<<"$err" || fail "unclear refusal: $err"
[ ! -e "$tmp/bad/index.db" ] || fail "a refused merge wrote an index"
[ "$before" = "$(ls -l "$tmp/part0")" ] || fail "an input changed"
echo "ok: refused: $err"
