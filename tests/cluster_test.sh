#!/usr/bin/env bash
# cluster_test: the job-array examples in docs/cluster run as the schedulers would run them.
# The sbatch script runs once per array task with SLURM_ARRAY_TASK_ID/COUNT/MIN set, the
# Kubernetes manifest's container command once per JOB_COMPLETION_INDEX; each set of parts,
# joined with vlp merge, holds every image of the folder exactly once, with the captions of
# a single unsharded run.
# Usage: cluster_test.sh VLP DOCS_DIR   (run from tests/)
set -euo pipefail
vlp=$1 docs=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir "$tmp/bin" "$tmp/photos"
ln -s "$(cd "$(dirname "$vlp")" && pwd)/$(basename "$vlp")" "$tmp/bin/vlp"
export PATH="$tmp/bin:$PATH" MODEL=$PWD/golden/models/blip-caption-tiny PHOTOS=$tmp/photos
for f in chelsea_cat.png astronaut.png coffee.jpg camera_gray.png coins_gray.png; do
  for k in 1 2; do cp "golden/images/$f" "$tmp/photos/${k}_$f"; done
done
vlp caption -m "$MODEL" -r "$PHOTOS" -o "$tmp/whole.jsonl" 2>/dev/null
paths() { python3 -c 'import json,sys; [print(json.loads(l)["path"], json.loads(l)["caption"]) for l in open(sys.argv[1])]' "$1" | sort; }
paths "$tmp/whole.jsonl" >"$tmp/want"
[ "$(wc -l <"$tmp/want")" = 10 ] || fail "the unsharded run captioned $(wc -l <"$tmp/want") images"

# Slurm: --array=1-3 (MIN 1), tasks in any order
export OUT=$tmp/slurm
for id in 3 1 2; do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 \
    SLURM_CPUS_PER_TASK=1 bash "$docs/cluster/caption.sbatch" 2>/dev/null
done
[ "$(ls "$OUT" | wc -l)" = 3 ] || fail "slurm: expected 3 parts, got $(ls "$OUT")"
vlp merge -o "$tmp/slurm.jsonl" "$OUT"/part-*.jsonl 2>/dev/null
paths "$tmp/slurm.jsonl" | diff - "$tmp/want" || fail "slurm parts differ from one run"
echo "ok: sbatch script, 3 array tasks"

# Kubernetes: the container's command from the manifest, JOB_COMPLETION_INDEX 0..3
cmd=$(grep -E '^ *command: ' "$docs/cluster/caption-job.yaml" | sed 's/^ *command: //' |
  python3 -c 'import json,sys; c=json.load(sys.stdin); assert c[:2]==["sh","-c"]; print(c[2])')
n=$(sed -n 's/^ *completions: \([0-9]*\)$/\1/p' "$docs/cluster/caption-job.yaml")
export OUT=$tmp/k8s
mkdir -p "$OUT"
for i in $(seq 0 $((n - 1))); do JOB_COMPLETION_INDEX=$i sh -c "$cmd" 2>/dev/null; done
[ "$(ls "$OUT" | wc -l)" = "$n" ] || fail "k8s: expected $n parts"
vlp merge -o "$tmp/k8s.jsonl" "$OUT"/part-*.jsonl 2>/dev/null
paths "$tmp/k8s.jsonl" | diff - "$tmp/want" || fail "k8s parts differ from one run"
echo "ok: indexed Job manifest, $n completions"

# without a job array's variables --shard auto refuses, naming them
if err=$(env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX vlp caption -m "$MODEL" \
  --shard auto "$PHOTOS" 2>&1 >/dev/null); then fail "--shard auto ran outside a job array"; fi
grep -q "SLURM_ARRAY_TASK_ID" <<<"$err" || fail "unclear error: $err"
echo "ok: --shard auto outside a job array: $err"

# the README's job-array example ("On a cluster", its sh block) as printed, from the
# repository's root: its merged index answers as one index of all the files
python3 - ../README.md "$tmp/readme.sh" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
sec = re.search(r"^## On a cluster\n(.*?)(?=^## )", text, re.S | re.M)
assert sec, "README has no 'On a cluster' section"
code = re.findall(r"```sh\n(.*?)```", sec.group(1), re.S)
assert len(code) == 1, "the 'On a cluster' section needs one sh block"
open(sys.argv[2], "w").write(code[0])
PY
(cd .. && bash -euo pipefail "$tmp/readme.sh") >"$tmp/readme.out" 2>"$tmp/readme.err" ||
  fail "the README's cluster example failed: $(cat "$tmp/readme.err")"
(cd .. && vlp index build -m tests/golden/models/clip-tiny -o "$tmp/whole-index" tests/golden/images &&
  vlp search "$tmp/whole-index" "a photo of a cat" -k 3) 2>/dev/null | grep '"rank"' >"$tmp/want-search"
[ "$(wc -l <"$tmp/want-search")" = 3 ] || fail "the whole index answered $(cat "$tmp/want-search")"
grep '"rank"' "$tmp/readme.out" | diff - "$tmp/want-search" ||
  fail "the README's merged index answers differently from one index"
echo "ok: the README's job-array example (index shards merged) searches as one index"
