#!/usr/bin/env bash
# bench_cli_test: `vlp bench` and `vlp embed --batch` on the golden tiny models — one JSON line per workload with
# positive timings and the same-run GEMM peak, every asked precision, clear usage errors.
# usage: bench_cli_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"

expect_rc 0 "bench help" "$VLP" bench --help
has out "--precision" "bench help"
expect_rc 2 "bench no model" "$VLP" bench
expect_rc 2 "bench bad precision" "$VLP" bench -m $M/clip-tiny --precision fp8
has err "fp8" "bench bad precision"
# a folder that is not a model: the message names what is wrong, not a generic one
mkdir -p "$T/nomodel" "$T/othermodel"
expect_rc 2 "bench folder without config.json" "$VLP" bench -m "$T/nomodel"
has err "config.json" "bench folder without config.json"
echo '{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}' >"$T/othermodel/config.json"
expect_rc 2 "bench unsupported architecture" "$VLP" bench -m "$T/othermodel"
has err "LlamaForCausalLM not supported" "bench unsupported architecture"

expect_rc 0 "bench clip" "$VLP" bench -m $M/clip-tiny --reps 1 --batch 2
lines out 5 "bench clip: decode+preprocess, image and text at batch 1 and 2"
has out '"workload": "decode+preprocess"' "bench clip"
has out '"workload": "image", "batch": 2, "precision": "f32"' "bench clip"
has out '"workload": "text", "batch": 1, "precision": "f32"' "bench clip"
hasnt out '"seconds_per_item": 0,' "bench clip timings"
hasnt out '"gemm_peak_gflops": 0,' "bench clip peak"
# the GEMM peak is the better of its measures before and after the workloads, and every row
# of a precision this CPU has instructions for is also a fraction of their peak
if python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    before, after = r['gemm_peak_before_after']
    assert before > 0 and after > 0 and r['gemm_peak_gflops'] == max(before, after), r
    if r['precision'] == 'f32':
        assert r['isa_peak_gflops'] > 0, r
        assert abs(r['isa_fraction'] - r['gflops'] / r['isa_peak_gflops']) < 1e-3 * r['isa_fraction']
    else:
        assert 'isa_fraction' not in r, r
" "$T/out"; then ok; else bad "bench clip limits: $(head -c 600 "$T/out")"; fi

# SigLIP: its text tower too, every text at the tokenizer's model_max_length; the FLOPs
# counted from config.json (no class token; the attention-pooling head)
expect_rc 0 "bench siglip" "$VLP" bench -m $M/siglip-tiny --reps 1 --batch 2
lines out 5 "bench siglip: decode+preprocess, image and text at batch 1 and 2"
has out '"workload": "text", "batch": 2, "precision": "f32"' "bench siglip text"
if python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cfg = json.load(open(sys.argv[2] + '/config.json'))
L = json.load(open(sys.argv[2] + '/tokenizer_config.json'))['model_max_length']
def layer(T, D, M): return 2 * T * (4 * D * D + 2 * D * M) + 4 * T * T * D
v, t = cfg['vision_config'], cfg['text_config']
D, M, P = v['hidden_size'], v['intermediate_size'], v['patch_size']
T = (v['image_size'] // P) ** 2
want = {'image': v['num_hidden_layers'] * layer(T, D, M) + 2 * T * D * 3 * P * P
                 + 4 * T * D * D + 4 * T * D + 4 * D * D + 4 * D * M,
        'text': t['num_hidden_layers'] * layer(L, t['hidden_size'], t['intermediate_size'])}
for r in rows:
    if r['workload'] in want:
        got = r['gflops'] * 1e9 * r['seconds_per_item']
        assert abs(got - want[r['workload']]) < 1e-4 * want[r['workload']], (r, want)
" "$T/out" $M/siglip-tiny; then ok; else bad "bench siglip FLOPs: $(head -c 600 "$T/out")"; fi

# BLIP retrieval: image-text matching of one text per image, its FLOPs the text encoder's over
# the image and alone (the text's length from the text row's FLOPs)
expect_rc 0 "bench itm" "$VLP" bench -m $M/blip-itm-tiny --reps 1 --batch 2
lines out 7 "bench itm: decode+preprocess, image, text and itm at batch 1 and 2"
has out '"workload": "itm", "batch": 2, "precision": "f32"' "bench itm"
if python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cfg = json.load(open(sys.argv[2] + '/config.json'))
def layer(T, D, M): return 2 * T * (4 * D * D + 2 * D * M) + 4 * T * T * D
v, t = cfg['vision_config'], cfg['text_config']
Dv, P = v['hidden_size'], v['patch_size']
Ti = (v['image_size'] // P) ** 2 + 1
D, M, L = t['hidden_size'], t['intermediate_size'], t['num_hidden_layers']
flops = lambda r: r['gflops'] * 1e9 * r['seconds_per_item']
text = [flops(r) for r in rows if r['workload'] == 'text']
T = [n for n in range(1, 512) if abs(L * layer(n, D, M) - text[0]) < 1e-4 * text[0]]
assert len(T) == 1, text
T = T[0]
want = (v['num_hidden_layers'] * layer(Ti, Dv, v['intermediate_size']) + 2 * (Ti - 1) * Dv * 3 * P * P
        + L * (layer(T, D, M) + 4 * T * D * D + 4 * Ti * Dv * D + 4 * T * Ti * D) + L * layer(T, D, M))
itm = [flops(r) for r in rows if r['workload'] == 'itm']
assert len(itm) == 2 and all(abs(f - want) < 1e-4 * want for f in itm), (itm, want)
" "$T/out" $M/blip-itm-tiny; then ok; else bad "bench itm FLOPs: $(grep itm "$T/out" | head -c 600)"; fi

# BLIP VQA: an answer of exactly --new-tokens tokens to one question per image
expect_rc 0 "bench vqa" "$VLP" bench -m $M/blip-vqa-tiny --reps 1 --batch 2 --new-tokens 3
lines out 5 "bench vqa: decode+preprocess, image and vqa at batch 1 and 2"
has out '"workload": "vqa 3 tok", "batch": 2, "precision": "f32"' "bench vqa"
hasnt out '"seconds_per_item": 0,' "bench vqa timings"
# its FLOPs from config.json: the question ("what is the dog doing on the beach?", 11 tokens
# with [CLS] and [SEP]) through the encoder over the image tokens, the answer's 3 steps
if python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '\"vqa' in l]
cfg = json.load(open(sys.argv[2] + '/config.json'))
def layer(T, D, M): return 2 * T * (4 * D * D + 2 * D * M) + 4 * T * T * D
v, t = cfg['vision_config'], cfg['text_config']
Dv, P = v['hidden_size'], v['patch_size']
Ti = (v['image_size'] // P) ** 2 + 1
D, M, L, V, Tq = t['hidden_size'], t['intermediate_size'], t['num_hidden_layers'], t['vocab_size'], 11
want = (v['num_hidden_layers'] * layer(Ti, Dv, v['intermediate_size']) + 2 * (Ti - 1) * Dv * 3 * P * P
        + L * (layer(Tq, D, M) + 4 * Tq * D * D + 4 * Ti * Dv * D + 4 * Tq * Ti * D)
        + L * 4 * Tq * D * D + 3 * (L * 2 * (6 * D * D + 2 * D * M) + 2 * D * D + 2 * D * V))
assert len(rows) == 2
for r in rows:
    got = r['gflops'] * 1e9 * r['seconds_per_item']
    assert abs(got - want) < 1e-4 * want, (got, want)
" "$T/out" $M/blip-vqa-tiny; then ok; else bad "bench vqa FLOPs: $(grep vqa "$T/out" | head -c 600)"; fi

# every precision this CPU runs gives its rows; one it cannot run says why (exit 1)
"$VLP" bench -m $M/blip-caption-tiny --reps 1 --batch 2 --new-tokens 3 \
  --precision f32,bf16,int8 >"$T/out" 2>"$T/err"
rc=$?
has out '"workload": "caption 3 tok", "batch": 2, "precision": "f32"' "bench caption"
# f32 captions give their floor from the same run's GEMM peak and memory bandwidth
# (an instrumented build's timings are not the machine's: there only the fields are checked)
if python3 -c "
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cap = [r for r in rows if r['workload'].startswith('caption') and r['precision'] == 'f32']
assert len(cap) == 2
timed = os.environ.get('VLP_TEST_INSTRUMENTED', '0') in ('', '0')
for r in cap:
    assert r['mem_read_gbs'] > 0 and r['floor_s'] > 0
    assert not timed or r['floor_s'] < r['seconds_per_item']
    assert abs(r['floor_ratio'] - r['seconds_per_item'] / r['floor_s']) < 1e-3 * r['floor_ratio']
assert all('floor_s' not in r for r in rows if not r['workload'].startswith('caption'))
" "$T/out"; then ok; else bad "bench caption floor: $(grep caption "$T/out" | head -c 600)"; fi
for p in bf16 int8; do
  if grep -qF "\"precision\": \"$p\"" "$T/out"; then ok
  elif grep -qF "$p" "$T/err" && [ "$rc" = 1 ]; then ok
  else bad "bench $p: neither rows nor a reason (exit $rc): $(head -c 300 "$T/err")"; fi
done

# vlp embed batches images and texts (--batch, default 16): same embeddings as one by one,
# same order, a bad file or an empty text reported in its place
I=golden/images
for b in 16 1; do
  "$VLP" embed -m $M/clip-tiny --batch $b --image $I/astronaut.png $I/coffee.jpg \
    $I/chelsea_cat.png --text "a cat" "a photo of a dog on the beach" >"$T/e$b" 2>/dev/null
done
if python3 -c "
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 5
for x, y in zip(a, b):
    assert x['input'] == y['input']
    assert max(abs(p - q) for p, q in zip(x['embedding'], y['embedding'])) < 1e-5
" "$T/e16" "$T/e1"; then ok; else bad "embed --batch 16 differs from --batch 1"; fi
echo junk >"$T/bad.jpg"
# the empty text is a text (the reference embeds "" too); only the bad file is an error
expect_rc 1 "embed batch with a bad file" "$VLP" embed -m $M/clip-tiny --image $I/coffee.jpg \
  "$T/bad.jpg" $I/astronaut.png --text "" "a cat"
lines out 5 "embed batch with a bad file"
if sed -n 2p "$T/out" | grep -qF '"error"' && sed -n 4p "$T/out" | grep -qF '"embedding"'; then ok
else bad "embed batch: errors not in their places: $(cat "$T/out" | cut -c1-80)"; fi

# idle OpenMP workers sleep unless the user chose (cli/wait_policy.c): libgomp's own report of
# its settings shows the spin count it runs with
OMP_DISPLAY_ENV=verbose "$VLP" bench -m $M/clip-tiny --reps 1 --batch 1 >"$T/out" 2>"$T/err"
has err "GOMP_SPINCOUNT = '0'" "bench: passive wait policy by default"
has out '"omp_wait_policy": "passive"' "bench reports the wait policy"
OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$VLP" bench -m $M/clip-tiny --reps 1 --batch 1 \
  >"$T/out" 2>"$T/err"
hasnt err "GOMP_SPINCOUNT = '0'" "bench: the user's wait policy kept"
has out '"omp_wait_policy": "active"' "bench reports the user's wait policy"

finish
