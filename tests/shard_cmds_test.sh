#!/usr/bin/env bash
# shard_cmds_test: --shard on vlp tag, vlp embed --image and vlp video tag / caption. The
# outputs of all shards together hold every input exactly once, with the results of one
# unsharded run (embeddings within 1e-5: a shard batches other images together).
# Usage: shard_cmds_test.sh VLP WITH_VIDEO(0|1)   (run from tests/)
set -euo pipefail
vlp=$1 with_video=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir "$tmp/photos"
for f in chelsea_cat.png astronaut.png coffee.jpg camera_gray.png coins_gray.png rocket.jpg; do
  cp "golden/images/$f" "$tmp/photos/$f"
done
clip=golden/models/clip-tiny
# same_records KEYS WHOLE PART...: the parts' records (keyed by the JSON fields KEYS) are
# those of WHOLE, each exactly once
same_records() {
  python3 - "$@" <<'PY'
import json, sys
keys, whole, parts = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]
def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]
def key(r):
    return tuple(r[k] for k in keys)
def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-5
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b
want = {key(r): r for r in load(whole)}
got = {}
for p in parts:
    for r in load(p):
        assert key(r) not in got, f"{key(r)} in two shards"
        got[key(r)] = r
assert len(want) > 1, f"the unsharded run gave {len(want)} records"
assert got.keys() == want.keys(), f"shards hold {sorted(got)} not {sorted(want)}"
for k in want:
    assert close(want[k], got[k]), f"{k}: {got[k]} differs from the unsharded {want[k]}"
print(f"ok: {len(want)} records in {len(parts)} shards")
PY
}

# vlp tag: 3 shards given as K/N, then as a Slurm array (--shard auto)
"$vlp" tag -m $clip --labels cat,rocket,coffee "$tmp/photos" >"$tmp/tag.jsonl" 2>/dev/null
for k in 1 2 3; do
  "$vlp" tag -m $clip --labels cat,rocket,coffee --shard $k/3 "$tmp/photos" \
    >"$tmp/tag$k.jsonl" 2>/dev/null
done
same_records path "$tmp/tag.jsonl" "$tmp"/tag[123].jsonl || fail "vlp tag --shard K/3"
for id in 0 1; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=0 \
    "$vlp" tag -m $clip --labels cat,rocket,coffee --shard auto "$tmp/photos" \
    >"$tmp/auto$id.jsonl" 2>/dev/null
done
same_records path "$tmp/tag.jsonl" "$tmp"/auto[01].jsonl || fail "vlp tag --shard auto"

# vlp embed --image (a folder and a file; batches of 4)
"$vlp" embed -m $clip --batch 4 --image "$tmp/photos" golden/images/grass_gray.png \
  >"$tmp/embed.jsonl" 2>/dev/null
for k in 1 2 3; do
  "$vlp" embed -m $clip --batch 4 --shard $k/3 --image "$tmp/photos" golden/images/grass_gray.png \
    >"$tmp/embed$k.jsonl" 2>/dev/null
done
same_records input "$tmp/embed.jsonl" "$tmp"/embed[123].jsonl || fail "vlp embed --shard K/3"

# refused: texts would be embedded again by every shard; a bad K/N
if "$vlp" embed -m $clip --shard 1/2 --text "a cat" 2>"$tmp/err"; then
  fail "embed --shard with --text ran"
fi
grep -q -- "--shard" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
if "$vlp" tag -m $clip --labels a --shard 4/3 "$tmp/photos" 2>"$tmp/err"; then
  fail "tag --shard 4/3 ran"
fi
grep -q "1 <= K <= N" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
echo "ok: --shard refused with --text and as 4/3"

if [ "$with_video" = 1 ]; then
  v=golden/video
  videos="$v/slideshow_h264.mp4 $v/slideshow_vp9.webm $v/slideshow_mjpeg.avi"
  "$vlp" video tag -m $clip --labels cat,rocket --every 4 $videos >"$tmp/vt.jsonl" 2>/dev/null
  for k in 1 2; do
    "$vlp" video tag -m $clip --labels cat,rocket --every 4 --shard $k/2 $videos \
      >"$tmp/vt$k.jsonl" 2>/dev/null
  done
  same_records video,t "$tmp/vt.jsonl" "$tmp"/vt[12].jsonl || fail "vlp video tag --shard"
  m=golden/models/blip-caption-tiny
  "$vlp" video caption -m $m --every 8 --max-new-tokens 3 $videos >"$tmp/vc.jsonl" 2>/dev/null
  for k in 1 2; do
    "$vlp" video caption -m $m --every 8 --max-new-tokens 3 --shard $k/2 $videos \
      >"$tmp/vc$k.jsonl" 2>/dev/null
  done
  same_records video,t "$tmp/vc.jsonl" "$tmp"/vc[12].jsonl || fail "vlp video caption --shard"
fi
