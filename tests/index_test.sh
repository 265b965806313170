#!/bin/bash
# index_test: end-to-end tests of `vlp index build` / `vlp search` (run from tests/).
# usage: index_test.sh VLP INDEX_GOLDEN
VLP=$1 GOLD=$2
. "$(dirname "$0")/testlib.sh"
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then ok; else bad "$1"; fi
}
field() { # field NAME < json lines: values of a numeric or string field, one per line
  sed -n "s/.*\"$1\": \"\{0,1\}\([^\",}]*\).*/\1/p"
}
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 + 1e-4 * (b < 0 ? -b : b)) }'; }

mkdir -p "$T/imgs/sub"
cp golden/images/astronaut.png golden/images/chelsea_cat.png golden/images/coffee.jpg "$T/imgs/"
cp golden/images/rocket.jpg golden/images/hubble_deep_field.jpg "$T/imgs/sub/"
echo "not an image" > "$T/imgs/broken.png"
echo "a note beside the photos" > "$T/imgs/notes.txt" # not an image by content or name: skipped
IX=$T/ix

# --- build: recursive, a broken file reported and skipped (exit 1) ---
"$VLP" index build -m $M/clip-tiny -o "$IX" "$T/imgs" > "$T/out" 2> "$T/err"
check "build with a broken file exits 1" test $? = 1
check "broken file reported as JSON" grep -q '"path": ".*broken.png", "error"' "$T/out"
check "broken file reported on stderr" grep -q 'broken.png' "$T/err"
check "build summary" grep -q '"files": 5, "embedded": 5, "unchanged": 0, "removed": 0, "failed": 1, "skipped": 1' "$T/out"
check "other files skipped, not failed" test "$(grep -c notes.txt "$T/out")" = 0
check "npy readable" test -f "$IX/embeddings-1.npy"

# --- search: top-1 and scores from the golden embeddings (golden text embeds x image embeds) ---
# the inputs of golden/cases/clip.json cases text0, text1, text2, text4
texts=([0]="a photo of an astronaut" [1]="a cat sitting on a blanket" [2]="a cup of coffee"
       [4]="A ROCKET launching into the sky!!!")
for t in 0 1 2 4; do
  text=${texts[$t]}
  check "golden case text$t is '$text'" grep -q "\"text\": \"$text\"" golden/cases/clip.json
  args=()
  for n in astronaut chelsea_cat coffee rocket hubble_deep_field; do args+=("$n=golden/npy/clip/$n/image_embeds.npy"); done
  "$GOLD" golden/npy/clip/text${t}_text_embeds.npy "${args[@]}" > "$T/expect" || { check "golden helper" false; continue; }
  "$VLP" search "$IX" "$text" -k 10 > "$T/res"
  check "search '$text' exits 0" test $? = 0
  check "search '$text' returns 5 results" test "$(wc -l < "$T/res")" = 5
  top=$(field path < "$T/res" | head -1 | xargs basename | sed 's/\.[a-z]*$//')
  check "top-1 of '$text' is the golden argmax $(head -1 "$T/expect" | cut -d' ' -f1) (got $top)" \
    test "$top" = "$(head -1 "$T/expect" | cut -d' ' -f1)"
  while read -r name score; do
    got=$(grep "/$name\." "$T/res" | field score)
    check "score of $name for '$text': $got vs golden $score" close "$got" "$score"
  done < "$T/expect"
done

# --- search by image: the image itself is first with cosine 1 ---
"$VLP" search "$IX" --image golden/images/coffee.jpg -k 1 > "$T/res"
# cosine 1 up to float rounding (the index embeds in batches, the query alone)
check "image query finds itself" grep -q 'coffee.jpg"' "$T/res"
check "image query score is 1" close "$(field score < "$T/res")" 1

# --- incremental rebuild: one changed, one deleted, one broken removed ---
rm "$T/imgs/broken.png" "$T/imgs/sub/rocket.jpg"
cp golden/images/grass_gray.png "$T/imgs/coffee.jpg" # new content under an old name
"$VLP" index build -m $M/clip-tiny -o "$IX" "$T/imgs" > "$T/out" 2> "$T/err"
check "rebuild exits 0" test $? = 0
check "rebuild embeds only the changed file" grep -q '"files": 4, "embedded": 1, "unchanged": 3, "removed": 1, "failed": 0' "$T/out"
check "rebuild summary on stderr" grep -q '4 files (1 embedded, 3 unchanged, 1 removed, 0 failed, 1 other files skipped)' "$T/err"
check "old embeddings file removed" test ! -e "$IX/embeddings-1.npy"
"$VLP" search "$IX" "a photo" -k 10 > "$T/res"
check "deleted file dropped" test "$(wc -l < "$T/res")" = 4
check "deleted file not returned" test "$(grep -c rocket "$T/res")" = 0
"$VLP" search "$IX" --image golden/images/grass_gray.png -k 1 > "$T/res"
check "changed file has its new embedding" grep -q 'coffee.jpg"' "$T/res"
check "changed file's score is 1" close "$(field score < "$T/res")" 1
"$VLP" index build -m $M/clip-tiny -o "$IX" "$T/imgs" > "$T/out" 2> /dev/null
check "unchanged rebuild embeds nothing" grep -q '"embedded": 0, "unchanged": 4, "removed": 0' "$T/out"

# --- another model at search time is refused ---
"$VLP" search "$IX" "a photo" -m $M/blip-itm-tiny > "$T/res" 2> "$T/err"
check "other model refused (exit 2)" test $? = 2
check "other model refused: message" grep -q 'was built with a CLIPModel' "$T/err"
check "other model refused: no results" test ! -s "$T/res"
"$VLP" search "$IX" "a photo" -m $M/clip-tiny-f16 -k 1 > "$T/res"
check "same architecture and width accepted" test "$(wc -l < "$T/res")" = 1

# --- a killed build leaves the previous index searchable (a stray new .npy is ignored) ---
cp "$IX/embeddings-3.npy" "$IX/embeddings-4.npy.tmp.1"; head -c 100 "$IX/embeddings-3.npy" > "$IX/embeddings-4.npy"
"$VLP" search "$IX" "a photo" -k 10 > "$T/res"
check "leftovers of a killed build ignored" test "$(wc -l < "$T/res")" = 4
"$VLP" index build -m $M/clip-tiny -o "$IX" "$T/imgs" > /dev/null 2>&1
check "next build cleans leftovers" test "$(ls "$IX" | grep -c embeddings)" = 1

# --- lock refusal ---
flock "$IX/lock" sleep 5 &
sleep 0.5
"$VLP" index build -m $M/clip-tiny -o "$IX" "$T/imgs" > /dev/null 2> "$T/err"
check "concurrent build refused (exit 2)" test $? = 2
check "concurrent build: clear message" grep -q 'another vlp index build is running' "$T/err"
wait

# --- corruption: truncated embeddings, corrupt database -> one-line error, exit 2 ---
cp -r "$IX" "$T/ix2"
npy=$(ls "$T/ix2" | grep embeddings)
truncate -s -8 "$T/ix2/$npy"
"$VLP" search "$T/ix2" "a photo" > "$T/res" 2> "$T/err"
check "truncated npy: exit 2" test $? = 2
check "truncated npy: one line naming the problem" test "$(wc -l < "$T/err")" = 1 -a "$(grep -c truncated "$T/err")" = 1
cp -r "$IX" "$T/ix3"
head -c 4096 /dev/urandom > "$T/ix3/index.db"
"$VLP" search "$T/ix3" "a photo" > "$T/res" 2> "$T/err"
check "corrupt db: exit 2" test $? = 2
check "corrupt db: one line" test "$(wc -l < "$T/err")" = 1 -a "$(grep -c 'index.db' "$T/err")" = 1
"$VLP" search "$T/nothing" "a photo" > "$T/res" 2> "$T/err"
check "missing index: exit 2" test $? = 2

# --- BLIP retrieval: --rerank gives vlp itm's probabilities ---
BIX=$T/bix
"$VLP" index build -m $M/blip-itm-tiny -o "$BIX" "$T/imgs" > "$T/out" 2> /dev/null
check "blip build" grep -q '"files": 4, "embedded": 4' "$T/out"
q="a cat sitting on a blanket"
"$VLP" search "$BIX" "$q" -k 4 --rerank 3 > "$T/res"
check "rerank exits 0" test $? = 0
check "rerank: 3 lines with itm" test "$(grep -c '"itm"' "$T/res")" = 3
check "rerank: 4 results" test "$(wc -l < "$T/res")" = 4
prev=2
while read -r path itm; do
  ref=$("$VLP" itm -m $M/blip-itm-tiny "$path" "$q" | field itm)
  check "itm of $path: $itm vs vlp itm $ref" close "$itm" "$ref"
  check "rerank order by itm" awk -v a="$itm" -v b="$prev" 'BEGIN { exit !(a <= b) }'
  prev=$itm
done < <(grep '"itm"' "$T/res" | sed 's/.*"path": "\([^"]*\)".*"itm": \([^}]*\)}/\1 \2/')
"$VLP" search "$IX" "$q" --rerank 3 > /dev/null 2> "$T/err"
check "rerank with CLIP refused" test $? = 2

finish
