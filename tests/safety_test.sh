#!/usr/bin/env bash
# safety_test: nothing lost, nothing overwritten, nothing silent (issue 14, data safety).
# usage: safety_test.sh PATH/TO/vlp SECTION   (run from tests/); one ctest test per SECTION.
set -u
VLP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SECTION=$2
. "$(dirname "$0")/testlib.sh"
CAP=$M/blip-caption-tiny
CLIP=$M/clip-tiny

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

# --- write errors: closed pipe, full file system (RLIMIT_FSIZE) -----------------------------------
# closed_pipe NAME CMD...: stdout is a pipe whose reader is gone; expect a reported error, exit != 0
closed_pipe() {
  local name=$1
  shift
  python3 -c 'import os, subprocess, sys
r, w = os.pipe(); os.close(r)
with open(sys.argv[1], "w") as err:
    sys.exit(subprocess.run(sys.argv[2:], stdout=w, stderr=err, timeout=120).returncode)' "$T/err" "$@"
  local rc=$?
  [ "$rc" != 0 ] && [ "$rc" -lt 128 ] && ok || bad "$name: closed pipe: exit $rc"
  grep -q "write failed: Broken pipe" "$T/err" && ok || bad "$name: closed pipe not reported: $(head -c 300 "$T/err")"
}
# full_disk NAME FILE CMD...: files may not grow past 1 KiB; expect a reported error, exit != 0,
# and FILE holding only whole records (the partial last one cut off)
full_disk() {
  local name=$1 file=$2
  shift 2
  (ulimit -f 1; exec "$@") >"$T/out" 2>"$T/err"
  local rc=$?
  [ "$rc" != 0 ] && [ "$rc" -lt 128 ] && ok || bad "$name: full disk: exit $rc"
  grep -q "write failed: File too large" "$T/err" && ok || bad "$name: full disk not reported: $(head -c 300 "$T/err")"
  python3 -c 'import json, sys
data = open(sys.argv[1]).read()
assert data == "" or data.endswith("\n"), "partial last line"
for line in data.splitlines(): json.loads(line)' "$file" && ok || bad "$name: $file is not whole JSON lines"
}
sec_write_errors() {
  local imgs="$G/images/astronaut.png $G/images/coffee.jpg $G/images/rocket.jpg $G/images/chelsea_cat.png"
  local vid=$G/video/slideshow_h264.mp4 texts=() i
  for i in $(seq 1 60); do texts+=("a photo number $i of a cat"); done
  mkdir "$T/many" # 40 images: search results longer than 1 KiB
  for i in $(seq 10 49); do cp $G/images/coffee.jpg "$T/many/a_rather_long_file_name_$i.jpg"; done
  "$VLP" index build -m $CLIP -o "$T/ix" "$T/many" >/dev/null 2>&1
  closed_pipe tag "$VLP" tag -m $CLIP --labels cat,dog,car $imgs
  closed_pipe embed "$VLP" embed -m $CLIP --image $imgs
  closed_pipe search "$VLP" search "$T/ix" "a cat" -k 2
  closed_pipe "video tag" "$VLP" video tag -m $CLIP --labels cat,dog $vid
  closed_pipe "video caption" "$VLP" video caption -m $CAP $vid
  closed_pipe caption "$VLP" caption -m $CAP $imgs
  closed_pipe vqa "$VLP" vqa -m $G/models/blip-vqa-tiny $G/images/coffee.jpg "what is it?"
  closed_pipe itm "$VLP" itm -m $G/models/blip-itm-tiny $G/images/coffee.jpg "a cup"
  closed_pipe tokenize "$VLP" tokenize -m $CLIP "a cat"
  closed_pipe "index build" "$VLP" index build -m $CLIP -o "$T/ix2" $imgs
  full_disk tag "$T/tag.jsonl" "$VLP" tag -m $CLIP --labels cat,dog,car,bird,tree,house,boat,plane,train $imgs $imgs $imgs -o "$T/tag.jsonl"
  full_disk embed "$T/emb.jsonl" "$VLP" embed -m $CLIP --image $imgs -o "$T/emb.jsonl"
  full_disk search "$T/s.jsonl" "$VLP" search "$T/ix" "a cat" -k 40 -o "$T/s.jsonl"
  full_disk "video tag" "$T/vt.jsonl" "$VLP" video tag -m $CLIP --labels cat,dog --every 0.2s $vid -o "$T/vt.jsonl"
  full_disk "video caption" "$T/vc.jsonl" "$VLP" video caption -m $CAP --every 0.2s $vid -o "$T/vc.jsonl"
  full_disk caption "$T/c.jsonl" "$VLP" caption -m $CAP $imgs $imgs -o "$T/c.jsonl"
  full_disk tokenize "$T/tok.jsonl" "$VLP" tokenize -m $CLIP "${texts[@]}" -o "$T/tok.jsonl"
  # stdout redirected to a full file: the same
  (ulimit -f 1; exec "$VLP" embed -m $CLIP --image $imgs) >"$T/stdout.jsonl" 2>"$T/err"
  rc=$?
  [ "$rc" != 0 ] && [ "$rc" -lt 128 ] && grep -q "stdout: write failed" "$T/err" && ok || bad "embed > full file: exit $rc: $(head -c 300 "$T/err")"
  # a caption run cut by the full disk resumes where it stopped: no record lost or doubled
  expect_rc 0 "caption resume after full disk" "$VLP" caption -m $CAP $imgs -o "$T/c.jsonl"
  [ "$(grep -c '"caption"' "$T/c.jsonl")" = 4 ] && ok || bad "caption resume after full disk: $(cat "$T/c.jsonl")"
}

# --- two runs writing the same -o file -----------------------------------------------------------
sec_output_lock() {
  local f=$T/out.jsonl
  echo '{"path": "keep"}' >"$f"
  # another writer holds the lock (flock(2) on its own open file, as a running vlp does)
  exec 8<"$f"
  flock -n 8 && ok || bad "lock: cannot take the test's lock"
  expect_rc 2 "lock: tag" "$VLP" tag -m $CLIP --labels cat,dog $G/images/coffee.jpg -o "$f"
  has err "another vlp run is writing this file" "lock: tag message"
  expect_rc 2 "lock: caption" "$VLP" caption -m $CAP $G/images/coffee.jpg -o "$f"
  has err "another vlp run is writing this file" "lock: caption message"
  expect_rc 2 "lock: caption --no-resume" "$VLP" caption -m $CAP --no-resume $G/images/coffee.jpg -o "$f"
  expect_rc 2 "lock: embed" "$VLP" embed -m $CLIP --text "a cat" -o "$f"
  [ "$(cat "$f")" = '{"path": "keep"}' ] && ok || bad "lock: the locked file was changed: $(head -c 200 "$f")"
  exec 8<&-
  expect_rc 0 "lock: free again" "$VLP" embed -m $CLIP --text "a cat" -o "$f"
  # a real second vlp run while the first writes: the first runs long videos (the two, six
  # times over: a few seconds, so it still holds the lock when the second starts), the second
  # is refused
  local vids=() i
  for i in 1 2 3 4 5 6; do vids+=("$G/video/slideshow_h264.mp4" "$G/video/slideshow_vp9.webm"); done
  "$VLP" video tag -m $CLIP --labels cat,dog --every 0.01s "${vids[@]}" -o "$T/v.jsonl" 2>/dev/null &
  local first=$!
  for i in $(seq 1 100); do [ -s "$T/v.jsonl" ] && break; sleep 0.05; done
  if kill -0 "$first" 2>/dev/null; then
    expect_rc 2 "lock: second video run" "$VLP" video tag -m $CLIP --labels cat --every 1s $G/video/slideshow_h264.mp4 -o "$T/v.jsonl"
    has err "another vlp run is writing this file" "lock: second run message"
  fi
  wait "$first"
  python3 -c 'import json, sys
for line in open(sys.argv[1]): json.loads(line)' "$T/v.jsonl" && ok || bad "lock: first run's output damaged"
}

# --- bad option values: one message, exit 2, before any input is touched ---------------------------
# bad_option NAME CMD...: exit 2, exactly one line on stderr, nothing on stdout
bad_option() {
  local name=$1
  shift
  expect_rc 2 "$name" "$@"
  lines err 1 "$name: one message"
  lines out 0 "$name: no output"
}
sec_bad_options() {
  local two="$G/images/coffee.jpg $G/images/rocket.jpg" vid=$G/video/slideshow_h264.mp4
  bad_option "--beams 0" "$VLP" caption -m $CAP --beams 0 $two
  bad_option "--max-length -1" "$VLP" caption -m $CAP --max-length -1 $two
  bad_option "--max-new-tokens 0" "$VLP" caption -m $CAP --max-new-tokens 0 $two
  bad_option "--repetition-penalty 0" "$VLP" caption -m $CAP --repetition-penalty 0 $two
  bad_option "--length-penalty nan" "$VLP" caption -m $CAP --length-penalty nan $two
  bad_option "vqa --beams 0" "$VLP" vqa -m $G/models/blip-vqa-tiny --beams 0 $G/images/coffee.jpg "what?"
  bad_option "--every 0s" "$VLP" video tag -m $CLIP --labels a,b --every 0s $vid $vid
  bad_option "--every -1" "$VLP" video caption -m $CAP --every -1 $vid
  bad_option "--every x" "$VLP" video caption -m $CAP --every x $vid
  bad_option "--threads 0" "$VLP" tag -m $CLIP --labels a --threads 0 $two
  bad_option "--batch 0" "$VLP" caption -m $CAP --batch 0 $two
  bad_option "-k 0" "$VLP" search "$T" "a cat" -k 0
  bad_option "--shard 0/2" "$VLP" caption -m $CAP --shard 0/2 $two
  bad_option "--format xml" "$VLP" caption -m $CAP --format xml $two
  bad_option "--precision foo" "$VLP" caption -m $CAP --precision foo $two
  bad_option "tag --precision f16" "$VLP" tag -m $CLIP --labels a --precision f16 $two
  bad_option "--existing sometimes" "$VLP" caption -m $CAP --sidecar --existing sometimes $two
}

# --- folder runs: images by content, dangling symlinks, NUL lists, normalised resume, progress ----
sec_folders() {
  local D=$T/f
  mkdir -p "$D/sub"
  cp $G/images/coffee.jpg "$D/a.jpg"
  cp $G/images/rocket.jpg "$D/noext"  # an image by content
  cp $G/images/images.json "$D/"      # not an image: skipped, counted
  echo "a caption" >"$D/a.txt"         # a sidecar: skipped, counted
  ln -s gone.jpg "$D/dangling.jpg"
  ln -s gone.txt "$D/dangling.txt"
  cp $G/images/astronaut.png "$D/sub/b c.png"
  expect_rc 0 "flat folder" "$VLP" caption -m $CAP "$D"
  lines out 2 "flat folder: the two images"
  hasnt out images.json "flat folder: images.json skipped"
  hasnt out a.txt "flat folder: a.txt skipped"
  has err "2 not images" "flat folder: skipped files counted"
  has err "dangling.jpg: dangling symlink" "flat folder: dangling symlink reported"
  has err "dangling.txt: dangling symlink" "flat folder: every dangling symlink reported"
  has err "2 dangling symlinks" "flat folder: dangling symlinks counted"
  expect_rc 0 "tag: flat folder" "$VLP" tag -m $CLIP --labels cat,dog "$D"
  lines out 2 "tag: flat folder takes the images only"
  # -0 / NUL-separated lists, names with spaces and newlines
  local odd="$D/sub/new
line.jpg"
  cp $G/images/coffee.jpg "$odd"
  printf '%s\0%s\0' "$D/sub/b c.png" "$odd" >"$T/list0"
  expect_rc 0 "--files-from -0" "$VLP" caption -m $CAP -0 --files-from "$T/list0"
  lines out 2 "--files-from -0: two records"
  has out 'new\nline.jpg' "--files-from -0: a name with a newline"
  printf '%s\0' "$D/a.jpg" | "$VLP" caption -m $CAP --null --from - >"$T/out" 2>"$T/err"
  lines out 1 "--null --from -"
  # resume matches normalised paths: ./a.jpg = a.jpg = .//a.jpg
  (cd "$D" && "$VLP" caption -m "$OLDPWD/$CAP" ./a.jpg -o "$T/r.jsonl" 2>/dev/null)
  grep -q '"path": "a.jpg"' "$T/r.jsonl" && ok || bad "normalised path written: $(cat "$T/r.jsonl")"
  (cd "$D" && "$VLP" caption -m "$OLDPWD/$CAP" a.jpg .//a.jpg noext -o "$T/r.jsonl" 2>"$T/err")
  has err "1 captioned" "resume: ./a.jpg = a.jpg (only noext captioned)"
  [ "$(grep -c a.jpg "$T/r.jsonl")" = 1 ] && ok || bad "resume: a.jpg captioned twice"
  # a record written by an older run as ./a.jpg is also found
  sed -i 's#"path": "a.jpg"#"path": "./a.jpg"#' "$T/r.jsonl"
  (cd "$D" && "$VLP" caption -m "$OLDPWD/$CAP" a.jpg -o "$T/r.jsonl" 2>"$T/err")
  has err "0 captioned" "resume: an old ./a.jpg record matches a.jpg"
  # -r reports progress while scanning (VLP_PROGRESS_EVERY=0: a line per step off a terminal)
  VLP_PROGRESS_EVERY=0 "$VLP" caption -m $CAP -r "$D" >/dev/null 2>"$T/err"
  has err "vlp caption: scanning: " "-r: scanning progress"
  has err "other files skipped, done" "-r: scanning summary"
  expect_rc 0 "-q: no scanning progress" "$VLP" caption -m $CAP -q -r "$D"
  hasnt err scanning "-q: quiet scan"
  # index build --progress counts images
  VLP_PROGRESS_EVERY=0 "$VLP" index build -m $CLIP -o "$T/ix" --progress "$D" >"$T/out" 2>"$T/err"
  has err "vlp index build: scanning: " "index build --progress: scanning"
  grep -qE "vlp index build: [0-9]+/4 \(" "$T/err" && ok || bad "index build --progress: images counted: $(head -c 400 "$T/err")"
  "$VLP" index build -m $CLIP -o "$T/ix2" "$D" >"$T/out" 2>"$T/err"
  hasnt err "scanning" "index build without --progress off a terminal: quiet"
}

# --- index rebuilds: dropped entries named; an index inside the folder it indexes ---------------
sec_index() {
  local D=$T/p
  mkdir -p "$D/2023" "$D/2024"
  cp $G/images/coffee.jpg $G/images/rocket.jpg "$D/2023/"
  cp $G/images/astronaut.png "$D/2024/"
  expect_rc 0 "index: first build" "$VLP" index build -m $CLIP -o "$T/ix" "$D"
  has out '"files": 3' "index: three files"
  # fewer PATHs: the entries not under them are dropped and each is named
  expect_rc 0 "index: fewer paths" "$VLP" index build -m $CLIP -o "$T/ix" "$D/2024"
  has out '"removed": 2' "index: two removed"
  has out "2023/coffee.jpg\", \"removed\": \"not under the PATHs given\"" "index: coffee.jpg named"
  has out "2023/rocket.jpg\", \"removed\"" "index: rocket.jpg named"
  has err "coffee.jpg: dropped from the index (not under the PATHs given)" "index: named on stderr"
  # a deleted file: named as gone
  expect_rc 0 "index: both again" "$VLP" index build -m $CLIP -o "$T/ix" "$D/2023" "$D/2024"
  rm "$D/2023/rocket.jpg"
  expect_rc 0 "index: file gone" "$VLP" index build -m $CLIP -o "$T/ix" "$D/2023" "$D/2024"
  has out "rocket.jpg\", \"removed\": \"the file is gone\"" "index: gone file named"
  # the index folder inside the indexed folder: skipped, not indexed, not failed on
  expect_rc 0 "index: inside, first" "$VLP" index build -m $CLIP -o "$D/ix" "$D"
  expect_rc 0 "index: inside, again" "$VLP" index build -m $CLIP -o "$D/ix" "$D"
  has out '"files": 2, "embedded": 0, "unchanged": 2, "removed": 0, "failed": 0' "index: own files not indexed"
  hasnt out '/ix/' "index: no entry from the index folder"
  expect_rc 0 "index: search it" "$VLP" search "$D/ix" "a cup" -k 5
  lines out 2 "index: search finds the two images"
}

# --- model choice: no -m says what the caches hold and how to pull; vlp models lists HF snapshots --
sec_models() {
  export VLP_HOME=$T/vlp-home HF_HOME=$T/hf HF_HUB_CACHE= XDG_CACHE_HOME=
  unset VLP_MODEL
  expect_rc 2 "no model, empty caches" "$VLP" caption $G/images/coffee.jpg
  has err "no models in $T/vlp-home or the Hugging Face cache: download one with \`vlp pull Salesforce/blip-image-captioning-base\`" "no model: how to pull"
  lines err 1 "no model: one line"
  expect_rc 2 "tag: no model" "$VLP" tag --labels a,b $G/images/coffee.jpg
  has err "vlp pull openai/clip-vit-base-patch32" "tag: a CLIP model suggested"
  # a Hugging Face hub cache snapshot (as huggingface_hub leaves it)
  local repo=$T/hf/hub/models--acme--clip-tiny
  mkdir -p "$repo/refs" "$repo/snapshots/0123abc"
  echo 0123abc >"$repo/refs/main"
  cp $CLIP/* "$repo/snapshots/0123abc/"
  expect_rc 0 "vlp models lists HF snapshots" "$VLP" models
  has out '"name": "acme/clip-tiny", "revision": "main", "path": "'"$repo/snapshots/0123abc"'"' "models: HF snapshot listed"
  has out '"architecture": "CLIPModel"' "models: its summary"
  expect_rc 2 "no model, HF cache holds one" "$VLP" tag --labels a,b $G/images/coffee.jpg
  has err "models in the cache: acme/clip-tiny" "no model: cached models named"
  # VLP_MODEL names the model when -m is not given (a cached name or a folder)
  VLP_MODEL=acme/clip-tiny expect_rc 0 "VLP_MODEL (cached name)" "$VLP" tag --labels a,b $G/images/coffee.jpg
  has out '"tags"' "VLP_MODEL: tags"
  VLP_MODEL=$CAP expect_rc 0 "VLP_MODEL (folder) for caption" "$VLP" caption $G/images/coffee.jpg
  VLP_MODEL=$CLIP expect_rc 0 "VLP_MODEL for index build" "$VLP" index build -o "$T/ix" $G/images/coffee.jpg
}

# --- video: start past the end, timestamps without float noise -----------------------------------
sec_video() {
  local vid=$G/video/slideshow_vp9.webm
  expect_rc 1 "--start past the end" "$VLP" video tag -m $CLIP --labels a,b --start 100 $vid
  has err "the start time 100 s is past the end of the video (16 s)" "--start past the end: says so"
  expect_rc 1 "--start past the end (caption)" "$VLP" video caption -m $CAP --start 16 $G/video/slideshow_h264.mp4
  has err "past the end of the video" "video caption: --start past the end"
  # every time printed is the shortest form of a microsecond value: no 2.0000000000000004
  for opt in "--fps 3" "--every 0.7s --start 0.3" "--fps 7 --segments" "--every 0.3s --segments --end 5.3"; do
    "$VLP" video tag -m $CLIP --labels a,b,c $opt $vid >"$T/out" 2>/dev/null
    grep -oE '"(t|start|end)": [0-9.e+-]+' "$T/out" | awk -F': ' '{ if (length($2) > 10 || $2 ~ /e/) print }' >"$T/noisy"
    lines noisy 0 "video $opt: timestamps without float noise: $(head -3 "$T/noisy")"
    [ -s "$T/out" ] && ok || bad "video $opt: no output"
  done
}

# --- fault injection: kill -9 at random moments ---------------------------------------------------
# ms_now: milliseconds since the epoch
ms_now() { date +%s%3N; }
# kill_after MS CMD...: run CMD in the background, SIGKILL it after MS milliseconds (if still
# running); its stdout/stderr go to $T/kout / $T/kerr
kill_after() {
  local ms=$1
  shift
  timeout 120 "$@" >"$T/kout" 2>"$T/kerr" &
  local pid=$!
  disown "$pid" 2>/dev/null # no "Killed" notes from the shell
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  pkill -KILL -P "$pid" 2>/dev/null # the vlp under timeout
  kill -KILL "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
}
search_paths() { "$VLP" search "$1" "a photo" -k 100 2>"$T/serr" | sed -n 's/.*"path": "\([^"]*\)".*/\1/p' | sort; }

sec_kill_index() {
  local A=$T/a B=$T/b
  mkdir -p "$A" "$B"
  local i=0 f
  for f in $G/images/*.png $G/images/*.jpg; do
    i=$((i + 1))
    if [ $((i % 2)) = 0 ]; then cp "$f" "$A/"; else cp "$f" "$B/"; fi
  done
  "$VLP" index build -m $CLIP -o "$T/ref-a" "$A" >/dev/null 2>&1
  "$VLP" index build -m $CLIP -o "$T/ref-ab" "$A" "$B" >/dev/null 2>&1
  search_paths "$T/ref-a" >"$T/set-a"
  search_paths "$T/ref-ab" >"$T/set-ab"
  [ -s "$T/set-a" ] && ! cmp -s "$T/set-a" "$T/set-ab" && ok || bad "kill index: reference sets"
  "$VLP" index build -m $CLIP -o "$T/ix" "$A" >/dev/null 2>&1
  # a writer killed inside its transaction, after SQLite spilled pages into index.db: the hot
  # journal it leaves is rolled back by the next reader, which sees the old index
  python3 - "$T/ix/index.db" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size=1")
c.execute("BEGIN IMMEDIATE")
c.execute("DELETE FROM files")
for i in range(3000):
    c.execute("INSERT INTO meta VALUES(?, ?)", ("k%d" % i, "v" * 100))
os._exit(0)
PY
  [ -s "$T/ix/index.db-journal" ] && ok || bad "kill index: no hot journal made"
  search_paths "$T/ix" >"$T/now"
  cmp -s "$T/now" "$T/set-a" && ok || bad "kill index: hot journal not rolled back: $(head -c 300 "$T/serr")"
  [ -e "$T/ix/index.db-journal" ] && bad "kill index: journal left after the roll-back" || ok
  local t0 full
  t0=$(ms_now)
  "$VLP" index build -m $CLIP -o "$T/full" "$A" "$B" >/dev/null 2>&1
  full=$(($(ms_now) - t0))
  local trial state=a killed=0
  for trial in $(seq 1 20); do
    local target args
    if [ $state = a ]; then target=ab args="$A $B"; else target=a args="$A"; fi
    kill_after $((RANDOM % (full + 50))) "$VLP" index build -m $CLIP -o "$T/ix" $args
    [ -s "$T/kout" ] && grep -q '"index"' "$T/kout" || killed=$((killed + 1))
    search_paths "$T/ix" >"$T/now"
    if cmp -s "$T/now" "$T/set-$state"; then
      ok
    elif cmp -s "$T/now" "$T/set-$target"; then
      ok
      state=$target
    else
      bad "kill index trial $trial: the index is neither the old nor the new one: $(head -c 300 "$T/serr") $(head -3 "$T/now")"
      break
    fi
  done
  echo "kill index: $killed of 20 builds killed before they finished (full build $full ms)"
  # the killed builds leave nothing in the way: the next build completes and is a clean one
  expect_rc 0 "kill index: build after the kills" "$VLP" index build -m $CLIP -o "$T/ix" "$A" "$B"
  search_paths "$T/ix" >"$T/now"
  cmp -s "$T/now" "$T/set-ab" && ok || bad "kill index: final index differs from a clean build"
  "$VLP" search "$T/ix" "a photo" -k 100 >"$T/s1" 2>/dev/null
  "$VLP" search "$T/ref-ab" "a photo" -k 100 >"$T/s2" 2>/dev/null
  cmp -s "$T/s1" "$T/s2" && ok || bad "kill index: scores differ from a clean build"
}

sec_kill_caption() {
  local D=$T/imgs i=0 f
  mkdir -p "$D"
  for f in $G/images/*.png $G/images/*.jpg; do cp "$f" "$D/"; done
  for fmt in jsonl csv; do
    local ref=$T/ref.$fmt out=$T/out.$fmt
    "$VLP" caption -m $CAP -q "$D" -o "$ref"
    local t0 full
    t0=$(ms_now)
    "$VLP" caption -m $CAP -q "$D" -o "$T/timing.$fmt" --no-resume
    full=$(($(ms_now) - t0))
    local trial
    for trial in $(seq 1 20); do
      [ $((trial % 5)) = 1 ] && rm -f "$out" # start over now and then: kills hit every phase
      kill_after $((RANDOM % (full + 50))) "$VLP" caption -m $CAP -q --batch $((1 + trial % 3)) "$D" -o "$out"
      [ -e "$out" ] || continue
      # every whole record is the reference's record for its path; only the last may be cut
      python3 - "$ref" "$out" "$fmt" <<'PY' && ok || { bad "kill caption ($fmt) trial $trial: a record written before the kill is damaged"; break; }
import sys
ref, out, fmt = sys.argv[1:4]
want = open(ref, encoding="utf-8").read().split("\n")
data = open(out, encoding="utf-8").read()
lines = data.split("\n")
complete = lines[:-1]  # the text after the last newline is a record cut by the kill
header = fmt == "csv"
if header and complete:
    assert complete[0] == want[0], "header"
    complete = complete[1:]
assert set(complete) <= set(want[1:] if header else want), [l for l in complete if l not in want][:2]
PY
    done
    # resume after the last kill: the output is then the reference, each image once
    expect_rc 0 "kill caption ($fmt): resume" "$VLP" caption -m $CAP -q "$D" -o "$out"
    if [ "$fmt" = csv ]; then
      [ "$(head -n 1 "$out")" = "$(head -n 1 "$ref")" ] && ok || bad "kill caption csv: header"
      cmp -s <(tail -n +2 "$out" | sort) <(tail -n +2 "$ref" | sort) && ok || bad "kill caption csv: resumed output differs from the reference"
    else
      cmp -s <(sort "$out") <(sort "$ref") && ok || bad "kill caption jsonl: resumed output differs from the reference: $(diff <(sort "$out") <(sort "$ref") | head -5)"
    fi
  done
}

sec_"$SECTION"
finish "$SECTION"
