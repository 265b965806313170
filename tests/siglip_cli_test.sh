#!/usr/bin/env bash
# siglip_cli_test: the vlp commands on a SigLIP folder (golden siglip-tiny) as scripts use
# them: tokenize, preprocess, embed, tag (sigmoid per label, default template, the
# reference's ranking), itm ({"path", "text", "score", "logit"}), index build / search by
# text and by image, video tag, info, and one clear error for a folder without spiece.model.
# usage: siglip_cli_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"
trap 'chmod -R u+rwx "$T"; rm -rf "$T"' EXIT # permissions first: an unreadable leftover goes too
S=$G/models/siglip-tiny
export VLP_THREADS=1
# value of KEY for case ID of golden/cases/siglip.json (python3's json module only)
golden() { python3 -c "import json,sys; d=json.load(open('$G/cases/siglip.json')); c=[c for c in d['cases'] if c['id']==sys.argv[1]][0]; print(json.dumps(c['expected'][sys.argv[2]]['value']))" "$1" "$2"; }

# --- tokenize: the reference's ids without the padding ------------------------------
expect_rc 0 "tokenize" "$VLP" tokenize -m $S "a photo of a cat" "hello </s>" ""
has out '{"text": "a photo of a cat", "ids": [19, 160, 257, 146, 28, 19, 286, 112, 1]}' "siglip ids"
has out '{"text": "hello </s>", "ids": [332, 211, 194, 1]}' "literal </s> ends the ids"
has out '{"text": "", "ids": [1]}' "empty text is </s>"
want=$(golden text0 input_ids | tr -d ' ' | sed 's/\(,1\)*\]$/]/')
expect_rc 0 "tokenize text0" "$VLP" tokenize -m $S "a photo of an astronaut"
tr -d ' ' <"$T/out" >"$T/ids"
has ids "\"ids\":${want%]},1]" "text0 ids = the golden ids before the pads"

# --- preprocess: straight resize to the processor's 48 x 48 ---------------------------
expect_rc 0 "preprocess" "$VLP" preprocess -m $S $G/images/edge_wide_1000x50.png -o "$T/p.npy"
head -c 128 "$T/p.npy" >"$T/hdr"
has hdr "'shape': (1, 3, 48, 48)" "preprocess shape"

# --- embed: unit vectors of the model's width -----------------------------------------
expect_rc 0 "embed" "$VLP" embed -m $S --text "a cat" --image $G/images/rocket.jpg --npy "$T/e.npy"
lines out 2 "one line per input"
python3 -c "
import json
for l in open('$T/out'):
    e = json.loads(l)['embedding']
    assert len(e) == 32 and abs(sum(x * x for x in e) - 1) < 1e-5
" && ok || bad "embeddings are unit vectors of width 32"

# --- tag: sigmoid per label with "This is a photo of {}.", the reference's ranking -----
labels="cat,astronaut,cup of coffee,rocket,grass,coins,galaxy,camera man"
expect_rc 0 "tag" "$VLP" tag -m $S --labels "$labels" $G/images/grass_gray.png
got=$(python3 -c "import json; print(json.dumps([t['label'] for t in json.loads(open('$T/out').read())['tags']]))")
want=$(golden zeroshot/grass_gray ranking)
if [ "$got" = "$want" ]; then ok; else bad "tag ranking $got, expected $want"; fi
python3 -c "
import json
s = [t['score'] for t in json.loads(open('$T/out').read())['tags']]
assert all(0 < x < 1 for x in s) and sum(s) > 1.5   # independent sigmoids, not a softmax
" && ok || bad "tag scores are sigmoids"
cp "$T/out" "$T/default"
expect_rc 0 "tag template" "$VLP" tag -m $S --labels "$labels" --template "This is a photo of {}." $G/images/grass_gray.png
if cmp -s "$T/out" "$T/default"; then ok; else bad "the default template is \"This is a photo of {}.\""; fi
expect_rc 0 "tag top" "$VLP" tag -m $S --labels "$labels" --top 2 $G/images/grass_gray.png
has out '"tags": [{"label": "galaxy", "score": ' "top-2 starts with the best label"

# --- itm: {"path", "text", "score", "logit"}, score = sigmoid(logit) ------------------
expect_rc 0 "itm" "$VLP" itm -m $S $G/images/astronaut.png "a photo of an astronaut" "a cat"
lines out 2 "itm: one line per text"
has out '{"path": "golden/images/astronaut.png", "text": "a photo of an astronaut", "score": ' "itm keys"
python3 -c "
import json, math
for l in open('$T/out'):
    o = json.loads(l)
    assert set(o) == {'path', 'text', 'score', 'logit'}
    assert abs(o['score'] - 1 / (1 + math.exp(-o['logit']))) < 1e-6
" && ok || bad "itm score = sigmoid(logit)"
# "" is a text (just </s>, padded): its logit is the reference's (text case 3 of siglip.json)
expect_rc 0 "itm empty text" "$VLP" itm -m $S $G/images/astronaut.png ""
python3 -c "
import json, struct
raw = open('$G/npy/siglip/astronaut/logits_per_image.npy', 'rb').read()
data = raw[10 + int.from_bytes(raw[8:10], 'little'):]  # .npy v1: float32 after the header
want = struct.unpack_from('<f', data, 4 * 3)[0]
got = json.loads(open('$T/out').readline())
assert abs(got['logit'] - want) < 5e-4, (got, want)
" && ok || bad "itm of the empty text equals the reference's logit"

# --- index build / search by text and by image ----------------------------------------
mkdir -p "$T/imgs"
cp $G/images/astronaut.png $G/images/coffee.jpg $G/images/rocket.jpg "$T/imgs/"
expect_rc 0 "index build" "$VLP" index build -m $S -o "$T/ix" "$T/imgs"
expect_rc 0 "search text" "$VLP" search "$T/ix" "a photo of an astronaut" -k 3
lines out 3 "search returns every image"
expect_rc 0 "search image" "$VLP" search "$T/ix" --image $G/images/coffee.jpg -k 1
has out 'coffee.jpg", "score": 1' "an image query finds itself"

# --- video tag ------------------------------------------------------------------------
expect_rc 0 "video tag" "$VLP" video tag -m $S --labels "$labels" --every 2 --top 1 $G/video/slideshow_h264.mp4
if [ "$(grep -c '"tags"' "$T/out")" -ge 2 ]; then ok; else bad "video tag: a line per sampled frame"; fi

# --- info -----------------------------------------------------------------------------
expect_rc 0 "info" "$VLP" info $S
has out '"architecture": "SiglipModel"' "info architecture"
has out '"supported": true' "info supported"
has out '"projection_dim": 32' "info embedding width"

# --- a folder without spiece.model: one line naming it, exit 2 -------------------------
mkdir -p "$T/bad"
cp $S/config.json $S/model.safetensors $S/preprocessor_config.json $S/tokenizer_config.json "$T/bad/"
expect_rc 2 "missing spiece.model" "$VLP" tag -m "$T/bad" --labels cat $G/images/astronaut.png
has err "spiece.model" "the missing file is named"
if [ "$(wc -l <"$T/err")" = 1 ]; then ok; else bad "one error line: $(cat "$T/err")"; fi

finish
