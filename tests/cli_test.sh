#!/usr/bin/env bash
# cli_test: the vlp command as scripts use it — JSON Lines, exit codes, error objects — on the
# golden tiny models. Expected token ids are the reference's (tests/golden/cases/*.json).
# usage: cli_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"
trap 'chmod -R u+rwx "$T"; rm -rf "$T"' EXIT # permissions first: an unreadable leftover goes too

# --- usage ---------------------------------------------------------------------------
expect_rc 0 "help" "$VLP" --help
has out "caption" "help lists commands"
expect_rc 2 "no command" "$VLP"
expect_rc 2 "unknown command" "$VLP" frobnicate
for c in caption merge vqa itm embed tag video index search pull models info tokenize preprocess selftest; do
  expect_rc 0 "$c --help" "$VLP" "$c" --help
  has out "usage: vlp $c" "$c --help"
done
expect_rc 2 "unknown option" "$VLP" caption -m $M/blip-caption-tiny --bogus $G/images/astronaut.png
has err "unknown option --bogus" "unknown option message"
expect_rc 2 "bad number" "$VLP" caption -m $M/blip-caption-tiny --beams zero $G/images/astronaut.png

# --- tokenize ------------------------------------------------------------------------
expect_rc 0 "tokenize bert" "$VLP" tokenize -m $M/blip-caption-tiny "a photo of a cat"
has out '{"text": "a photo of a cat", "ids": [101, 1037, 6302, 1997, 1037, 4937, 102]}' "bert ids"
expect_rc 0 "tokenize clip" "$VLP" tokenize -m $M/clip-tiny "a photo of a cat"
has out '"ids": [49406, 320, 1125, 539, 320, 2368, 49407]}' "clip ids"
printf 'a photo of a cat\na cup of coffee\n' | "$VLP" tokenize -m $M/clip-tiny >"$T/out" 2>"$T/err"
lines out 2 "tokenize from stdin"
expect_rc 2 "tokenize without tokenizer" "$VLP" tokenize -m "$T" "x"
has err "vocab" "missing tokenizer file named"

# --- preprocess ----------------------------------------------------------------------
expect_rc 0 "preprocess" "$VLP" preprocess -m $M/clip-tiny $G/images/astronaut.png -o "$T/p.npy"
head -c 128 "$T/p.npy" >"$T/hdr"
has hdr "'shape': (1, 3, 64, 64)" "preprocess shape"
expect_rc 0 "preprocess 128" "$VLP" preprocess -m $M/blip-caption-tiny $G/images/coffee.jpg --image-size 128 -o "$T/q.npy"
head -c 128 "$T/q.npy" >"$T/hdr"
has hdr "'shape': (1, 3, 128, 128)" "preprocess --image-size"
# libheif is opened by the first HEIF/AVIF image, not when vlp starts (media/heif_lazy.h)
expect_rc 0 "preprocess a JPEG, loader traced" env LD_DEBUG=files "$VLP" preprocess -m $M/clip-tiny \
  $G/images/coffee.jpg -o "$T/j.npy"
hasnt err "file=libheif" "a JPEG does not load libheif"
expect_rc 0 "preprocess an AVIF, loader traced" env LD_DEBUG=files "$VLP" preprocess -m $M/clip-tiny \
  data/formats/still.avif -o "$T/a.npy"
has err "file=libheif" "an AVIF loads libheif"
expect_rc 2 "preprocess without -o" "$VLP" preprocess -m $M/clip-tiny $G/images/astronaut.png

# --- caption -------------------------------------------------------------------------
CAP=$M/blip-caption-tiny
expect_rc 0 "caption" "$VLP" caption -m $CAP $G/images/astronaut.png
has out '"tokens": [30522, 13195, 14577, 25063, 5258, 27010, 2975, 14958, 26341, 27010, 2975, 102]' "greedy tokens (astronaut/prompt0)"
has out '"caption": "offspring lawsoneased occurmania leaving indirecttfordmania leaving"' "greedy text"
expect_rc 0 "caption prompt" "$VLP" caption -m $CAP --prompt "a picture of" $G/images/astronaut.png
has out '"tokens": [30522, 1037, 3861, 1997, 7761, 27010, 20935, 24508, 26341, 27010, 10839, 102]' "prompt tokens (astronaut/prompt1)"
expect_rc 0 "caption beam" "$VLP" caption -m $CAP --beams 3 --min-length 5 $G/images/astronaut.png
has out '"tokens": [30522, 13195, 14577, 25063, 5258, 27010, 24213, 14958, 20061, 27010, 2975, 102]' "beam tokens (astronaut/prompt0)"
expect_rc 0 "caption bf16" "$VLP" caption -m $M/blip-caption-tiny-bf16 $G/images/astronaut.png
has out '"tokens": [30522, 13195, 14577, 25063, 5258, 27010, 2975, 14958, 20061, 27010, 2975, 102]' "bf16 greedy tokens"
# batch of 3 equals one at a time
"$VLP" caption -m $CAP $G/images/astronaut.png $G/images/coffee.jpg $G/images/rocket.jpg >"$T/one" 2>/dev/null
"$VLP" caption -m $CAP --batch 3 $G/images/astronaut.png $G/images/coffee.jpg $G/images/rocket.jpg >"$T/three" 2>/dev/null
if cmp -s "$T/one" "$T/three" && [ "$(wc -l <"$T/one")" = 3 ]; then ok; else bad "--batch 3 differs from batch 1"; fi

# a folder with good and bad files: good ones captioned, bad ones reported, exit 1
mkdir "$T/photos"
cp $G/images/astronaut.png $G/images/coffee.jpg "$T/photos/"
: >"$T/photos/empty.png"
head -c 5000 $G/images/chelsea_cat.png >"$T/photos/truncated.png"
echo "not an image" >"$T/photos/notes.txt"
printf 'GIF89a\001\000\001\000\000\000\000;' >"$T/photos/anim.gif"
expect_rc 1 "caption folder with bad files" "$VLP" caption -m $CAP "$T/photos"
lines out 5 "one JSON line per image (notes.txt skipped: not an image)"
if [ "$(grep -c '"caption"' "$T/out")" = 2 ]; then ok; else bad "two good images captioned"; fi
if [ "$(grep -c '"error"' "$T/out")" = 3 ]; then ok; else bad "three error objects"; fi
has err "empty.png" "zero-byte file named on stderr"
has err "truncated.png" "truncated file named on stderr"
has err "GIF" "GIF named as unsupported"
expect_rc 1 "missing image" "$VLP" caption -m $CAP "$T/nope.png"
has out '"error"' "missing image error object"
expect_rc 2 "no model" "$VLP" caption $G/images/astronaut.png
expect_rc 2 "missing model folder" "$VLP" caption -m "$T/no-such-model" $G/images/astronaut.png
has err "no-such-model" "missing model folder named"
expect_rc 2 "wrong architecture" "$VLP" caption -m $M/clip-tiny $G/images/astronaut.png
has err "CLIPModel" "architecture named"
mkdir "$T/badcfg" && cp $CAP/* "$T/badcfg/" && echo "{ not json" >"$T/badcfg/config.json"
expect_rc 2 "config not JSON" "$VLP" caption -m "$T/badcfg" $G/images/astronaut.png
has err "config.json" "bad config named"
mkdir "$T/trunc" && cp $CAP/* "$T/trunc/" && head -c 100000 $CAP/model.safetensors >"$T/trunc/model.safetensors"
expect_rc 2 "truncated safetensors" "$VLP" caption -m "$T/trunc" $G/images/astronaut.png
has err "model.safetensors" "truncated safetensors named"
expect_rc 0 "caption -o" "$VLP" caption -m $CAP -o "$T/caps.jsonl" $G/images/astronaut.png
lines caps.jsonl 1 "-o file written"

# --- vqa -----------------------------------------------------------------------------
expect_rc 0 "vqa" "$VLP" vqa -m $M/blip-vqa-tiny $G/images/astronaut.png "what is in the picture?"
has out '"tokens": [30522, 13251, 13251, 26051, 27280, 13251, 13251, 13251, 26051, 26051, 27481, 13251, 13251, 13251, 13251, 13251, 13251, 13251, 26051, 13251]' "vqa greedy tokens (astronaut/q0)"
has out '"question": "what is in the picture?"' "vqa question echoed"
expect_rc 1 "vqa empty question" "$VLP" vqa -m $M/blip-vqa-tiny $G/images/astronaut.png ""
has out '"error"' "empty question error object"

# --- itm -----------------------------------------------------------------------------
expect_rc 0 "itm" "$VLP" itm -m $M/blip-itm-tiny $G/images/astronaut.png "a photo of an astronaut" "a cup of coffee"
lines out 2 "itm one line per text"
has out '"itm": ' "itm field"
has out '"itc": ' "itc field"

# --- embed ---------------------------------------------------------------------------
expect_rc 0 "embed clip" "$VLP" embed -m $M/clip-tiny --image $G/images/astronaut.png $G/images/coffee.jpg --text "a cup of coffee" --npy "$T/e.npy"
lines out 3 "embed one line per input"
head -c 128 "$T/e.npy" >"$T/hdr"
has hdr "'shape': (3, 32)" "embed --npy shape"
expect_rc 0 "embed blip" "$VLP" embed -m $M/blip-itm-tiny --text "a cup of coffee"
has out '"input": "a cup of coffee"' "blip text embedding"
expect_rc 0 "embed empty text" "$VLP" embed -m $M/clip-tiny --text ""
has out '"input": "", "embedding": [' "embed: \"\" is a text (start and end tokens)"
expect_rc 2 "embed with caption model" "$VLP" embed -m $CAP --text "x"

# --- tag -----------------------------------------------------------------------------
expect_rc 0 "tag" "$VLP" tag -m $M/clip-tiny --labels "cat,dog,rocket" $G/images/astronaut.png
has out '"tags": [{"label": ' "tag output"
if [ "$(grep -o '"label"' "$T/out" | wc -l)" = 3 ]; then ok; else bad "three labels scored"; fi
printf 'cat\n\ndog\r\n' >"$T/labels.txt"
expect_rc 0 "tag --labels-file --top" "$VLP" tag -m $M/clip-tiny --labels-file "$T/labels.txt" --top 1 $G/images/coffee.jpg
if [ "$(grep -o '"label"' "$T/out" | wc -l)" = 1 ]; then ok; else bad "--top 1"; fi
expect_rc 2 "tag without labels" "$VLP" tag -m $M/clip-tiny $G/images/coffee.jpg

# --- selftest ------------------------------------------------------------------------
# one thread: the whole set runs in seconds even on a loaded machine (OpenMP threads
# competing for busy cores made it run past testlib's timeout)
expect_rc 0 "selftest" "$VLP" selftest $G --threads 1
if tail -n 1 "$T/out" | grep -qE '^[0-9]+ passed, 0 failed'; then ok; else bad "selftest: $(tail -n 3 "$T/out")"; fi
expect_rc 2 "selftest not a golden set" "$VLP" selftest "$T"

finish
