#!/usr/bin/env bash
# batch_test: `vlp tag`, `vlp embed`, `vlp index build` and `vlp video tag` give the same
# records with --batch 3 as with --batch 1 (numbers within 1e-4; paths, order, errors and
# stderr identical; index build's default batch: the same embeddings, byte for byte), on 8 images (3 does not divide 8) with a truncated JPEG inside the second
# batch, and on videos of 32 and 16 sampled frames (the second truncated).
# usage: batch_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"
PY=/usr/bin/python3

mkdir -p "$T/imgs"
i=0
for f in astronaut.png chelsea_cat.png coffee.jpg rocket.jpg edge_cmyk.jpg hubble_deep_field.jpg \
  edge_exif_rot90.jpg; do
  i=$((i + 1))
  cp "$G/images/$f" "$T/imgs/0${i}_$f"
done
head -c 3000 "$G/images/coffee.jpg" >"$T/imgs/04b_corrupt.jpg"
head -c 70000 "$G/video/slideshow_h264.mp4" >"$T/trunc.mp4"
VIDEOS="$G/video/slideshow_h264.mp4 $T/trunc.mp4"

# same NAME EXT: run$EXT of --batch 1 and 3 agree (JSON lines within 1e-4, stderr equal)
same() {
  if $PY jsonl_close.py "$T/b1.$2" "$T/b3.$2" >"$T/why"; then ok; else bad "$1: --batch 3 differs from --batch 1: $(cat "$T/why")"; fi
  if cmp -s "$T/b1.err" "$T/b3.err"; then ok; else bad "$1: stderr differs: $(diff "$T/b1.err" "$T/b3.err" | head -5)"; fi
}
# run NAME RC CMD...: CMD with --batch 1 and --batch 3 appended, each exiting RC; stdout in
# $T/bN.out, stderr in $T/bN.err
run() {
  local name=$1 rc=$2
  shift 2
  for b in 1 3; do
    expect_rc "$rc" "$name --batch $b" "$@" --batch "$b"
    mv "$T/out" "$T/b$b.out"
    mv "$T/err" "$T/b$b.err"
  done
}

for model in clip-tiny siglip-tiny; do
  run "tag $model" 1 "$VLP" tag -m $M/$model --labels cat,dog,rocket,coffee "$T/imgs"
  lines b3.out 8 "tag $model: a record per image"
  has b3.out '{"path": "'"$T"'/imgs/04b_corrupt.jpg", "error": "' "tag $model: the corrupt image fails"
  has b3.err "04b_corrupt.jpg: truncated JPEG" "tag $model: its one-line error"
  same "tag $model" out

  run "embed $model" 1 "$VLP" embed -m $M/$model --image "$T/imgs" --npy "$T/e.npy"
  lines b3.out 8 "embed $model: a record per image"
  same "embed $model" out

  run "video tag $model" 1 "$VLP" video tag -m $M/$model --labels cat,dog,rocket --every 0.5 $VIDEOS
  lines b3.out 49 "video tag $model: 32 + 16 frames and the truncated video's error"
  has b3.err "trunc.mp4: truncated video" "video tag $model: the damage reported"
  same "video tag $model" out
done

run "embed --video" 1 "$VLP" embed -m $M/clip-tiny --every 0.5 --video $VIDEOS
same "embed --video" out
run "video tag --segments" 0 "$VLP" video tag -m $M/clip-tiny --labels cat,rocket --segments \
  --every 0.5 "$G/video/slideshow_h264.mp4"
same "video tag --segments" out

# index build: the same report records, entries in the same order, embeddings within 1e-4;
# then an update that adds one image embeds only it, whatever the batch
index_dump() { # INDEX_DIR -> paths in row order, then the embeddings
  $PY - "$1" <<'PY'
import sqlite3, sys, glob, json, numpy
db = sqlite3.connect(sys.argv[1] + "/index.db")
for (p,) in db.execute("SELECT path FROM files ORDER BY row"):
    print(json.dumps({"entry": p}))
for row in numpy.load(sorted(glob.glob(sys.argv[1] + "/embeddings-*.npy"))[-1]):
    print(json.dumps({"embedding": [float(x) for x in row]}))
PY
}
mkdir "$T/media"
cp "$T"/imgs/0[1-6]* "$T/media/"
cp "$G/video/slideshow_vp9.webm" "$T/media/03v_slideshow.webm" # between images: mixed batches
for b in 1 3; do
  expect_rc 1 "index build --batch $b" "$VLP" index build -m $M/clip-tiny -o "$T/idx$b" --every 0.5 \
    --batch $b "$T/media"
  sed "s|idx$b|idxN|g" "$T/out" >"$T/b$b.out"
  sed "s|idx$b|idxN|g" "$T/err" >"$T/b$b.err"
  index_dump "$T/idx$b" >"$T/b$b.dump"
done
has b3.out '"embedded": 38, "unchanged": 0, "removed": 0, "failed": 1' "index build: 6 images + 32 frames, one failed"
same "index build" out
same "index build: entries" dump
# the default batch (16 where the products are batch invariant, else 1) writes the very same
# embeddings as --batch 1
expect_rc 1 "index build (default batch)" "$VLP" index build -m $M/clip-tiny -o "$T/idx0" --every 0.5 \
  "$T/media"
if cmp -s "$T/idx0/embeddings-1.npy" "$T/idx1/embeddings-1.npy"; then ok; else bad "index build: default batch's embeddings differ from --batch 1's"; fi
cp "$G/images/coins_gray.png" "$T/media/00_new.png"
for b in 1 3; do
  expect_rc 1 "index update --batch $b" "$VLP" index build -m $M/clip-tiny -o "$T/idx$b" --every 0.5 \
    --batch $b "$T/media"
  has out '"files": 39, "embedded": 1, "unchanged": 38' "index update --batch $b: only the new image embedded"
  sed "s|idx$b|idxN|g" "$T/out" >"$T/b$b.out"
  sed "s|idx$b|idxN|g" "$T/err" >"$T/b$b.err"
  index_dump "$T/idx$b" >"$T/b$b.dump"
done
same "index update" out
same "index update: entries" dump

expect_rc 2 "--batch 0" "$VLP" tag -m $M/clip-tiny --labels cat --batch 0 "$T/imgs"
expect_rc 2 "--batch 1025" "$VLP" index build -m $M/clip-tiny -o "$T/idx0" --batch 1025 "$T/imgs"
finish
