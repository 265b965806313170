#!/usr/bin/env bash
# pull_test: `vlp pull`, the model cache, `vlp models` and `vlp info` against a local hub
# (hub_server on 127.0.0.1 serving golden tiny models in the hub's URL layout).
# Nothing leaves 127.0.0.1: HF_ENDPOINT points at the local server and every proxy variable
# points at a closed local port (NO_PROXY=127.0.0.1), so any other request would fail.
# usage: pull_test.sh PATH/TO/vlp PATH/TO/hub_server PATH/TO/pull_shard   (run from tests/)
set -u
VLP=$1
SERVER=$2
SHARD=$3
. "$(dirname "$0")/testlib.sh"
IMG=$G/images/astronaut.png
COMMIT=0123456789abcdef0123456789abcdef01234567
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
check() { if eval "$1"; then ok; else bad "$2"; fi; }

export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
export HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset HF_TOKEN HF_HOME
export HF_HUB_CACHE=$T/hf-cache # empty: names resolve in VLP_HOME only

# Folders the server serves: the golden caption model, a sharded copy, copies with a file
# missing.
mkdir -p "$T/sharded" "$T/noprep" "$T/noweights"
"$SHARD" $M/blip-caption-tiny/model.safetensors "$T/sharded" 3 || bad "pull_shard failed"
for f in $M/blip-caption-tiny/*; do
  case $f in */model.safetensors) ;; *) cp "$f" "$T/sharded/" ;; esac
done
cp $M/blip-caption-tiny/* "$T/noprep/" && rm "$T/noprep/preprocessor_config.json"
cp $M/blip-caption-tiny/* "$T/noweights/" && rm "$T/noweights/model.safetensors"

# start_server MODE: a fresh server (the previous one stopped), HF_ENDPOINT pointed at it.
start_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  : >"$T/port"
  : >"$T/log"
  "$SERVER" --repo test/blip-caption-tiny=$M/blip-caption-tiny --repo test/blip-sharded="$T/sharded" \
    --repo test/clip-tiny=$M/clip-tiny --repo test/noprep="$T/noprep" \
    --repo test/noweights="$T/noweights" --commit $COMMIT --mode "$1" --log "$T/log" \
    --timeout 120 >"$T/port" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  export HF_ENDPOINT="http://127.0.0.1:$(head -1 "$T/port")"
}
# fresh_cache: an empty VLP_HOME
fresh_cache() { export VLP_HOME="$T/cache$1"; }
SNAP() { echo "$VLP_HOME/models--test--$1/snapshots/$COMMIT"; }
n_params() { grep -A1 "\"$1\": {" $M/models_info.json | sed -n 's/.*"n_params": \([0-9]*\).*/\1/p'; }

if ! "$VLP" pull --help >/dev/null 2>&1; then
  echo "FAIL: 'vlp pull' is not a command of $VLP (cli/main.c needs the pull, models, info lines)" >&2
  exit 1
fi
expect_rc 0 "pull --help" "$VLP" pull --help
has out "usage: vlp pull" "pull --help"
expect_rc 2 "pull without repo" "$VLP" pull
expect_rc 0 "models --help" "$VLP" models --help
expect_rc 0 "info --help" "$VLP" info --help

# --- a normal pull: downloaded, verified, cached -------------------------------------------
start_server normal
fresh_cache 1
expect_rc 0 "pull" "$VLP" pull test/blip-caption-tiny
has out "\"commit\": \"$COMMIT\"" "pull reports the hub's commit"
has out '"model.safetensors"' "pull lists the weights"
has out "\"path\": \"$(SNAP blip-caption-tiny)\"" "pull reports the snapshot folder"
for f in config.json model.safetensors vocab.txt preprocessor_config.json tokenizer_config.json \
  special_tokens_map.json added_tokens.json generation_config.json; do
  check "cmp -s $M/blip-caption-tiny/$f $(SNAP blip-caption-tiny)/$f" "cached $f differs from the served one"
done
check "[ \"\$(cat $VLP_HOME/models--test--blip-caption-tiny/refs/main)\" = $COMMIT ]" "refs/main holds the commit"
check "[ -z \"\$(find $VLP_HOME -name '*.incomplete')\" ]" "no .incomplete file left"
check "[ ! -e $(SNAP blip-caption-tiny)/tokenizer.json ]" "an optional file the hub lacks is skipped"
has log "HEAD /test/blip-caption-tiny/resolve/main/model.safetensors range=- status=302" "LFS file redirected"
has log "GET /cdn/test/blip-caption-tiny/model.safetensors range=- status=200" "weights downloaded from the redirect"
hasnt log "auth=Bearer" "no token sent without HF_TOKEN"
# libcurl is opened by the first download, not when vlp starts (hub/curl_lazy.h)
expect_rc 0 "pull again, loader traced" env LD_DEBUG=files "$VLP" pull test/blip-caption-tiny
has err "file=libcurl" "a pull loads libcurl"
expect_rc 0 "tokenize, loader traced" env LD_DEBUG=files "$VLP" tokenize -m $M/blip-caption-tiny "a cat"
hasnt err "file=libcurl" "a run that downloads nothing does not load libcurl"

# the cached model captions exactly as the golden folder
"$VLP" caption -m $M/blip-caption-tiny $IMG >"$T/want" 2>/dev/null
for name in blip-caption-tiny test/blip-caption-tiny "test/blip-caption-tiny@main" \
  "$VLP_HOME/models--test--blip-caption-tiny" "$(SNAP blip-caption-tiny)"; do
  expect_rc 0 "caption -m $name" "$VLP" caption -m "$name" $IMG
  check "cmp -s $T/want $T/out" "caption -m $name differs from the golden folder's"
done
expect_rc 0 "tokenize -m name" "$VLP" tokenize -m blip-caption-tiny "a photo of a cat"
has out '"ids": [101, 1037, 6302, 1997, 1037, 4937, 102]' "tokenize with a cache name"
expect_rc 0 "preprocess -m name" "$VLP" preprocess -m blip-caption-tiny $IMG -o "$T/p.npy"
expect_rc 2 "unknown cache name" "$VLP" caption -m no-such-model $IMG
has err "no-such-model" "unknown name named"
has err "vlp pull" "unknown name suggests vlp pull"

# pulling again downloads nothing
: >"$T/log"
expect_rc 0 "pull again" "$VLP" pull test/blip-caption-tiny
has out '"downloaded_bytes": 0' "second pull downloads nothing"
hasnt log "GET " "second pull sends no GET"

# --- token ---------------------------------------------------------------------------------
: >"$T/log"
fresh_cache 2
HF_TOKEN=secret-token expect_rc 0 "pull with HF_TOKEN" "$VLP" pull test/clip-tiny
has log "auth=Bearer secret-token" "HF_TOKEN sent as a bearer token"
check "cmp -s $M/clip-tiny/model.safetensors $(SNAP clip-tiny)/model.safetensors" "clip weights cached"
check "cmp -s $M/clip-tiny/merges.txt $(SNAP clip-tiny)/merges.txt" "clip merges cached"

# --- vlp models / vlp info -------------------------------------------------------------------
"$VLP" pull -q test/blip-caption-tiny >/dev/null 2>&1
expect_rc 0 "models" "$VLP" models
check "[ \$(wc -l <$T/out) = 2 ]" "models lists 2 models"
has out "{\"name\": \"test/blip-caption-tiny\", \"revision\": \"main\", \"path\": \"$(SNAP blip-caption-tiny)\", \"architecture\": \"BlipForConditionalGeneration\"" "models line"
has out "\"dtype\": \"F32\", \"n_params\": $(n_params blip-caption-tiny)}" "models n_params"
has out '"name": "test/clip-tiny"' "models lists clip"
expect_rc 0 "info name" "$VLP" info blip-caption-tiny
has out '"architecture": "BlipForConditionalGeneration"' "info architecture"
has out "\"n_params\": $(n_params blip-caption-tiny)," "info n_params = models_info.json"
has out '"tasks": ["caption", "tokenize", "preprocess"]' "info tasks"
has out '"vision": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "image_size": 64, "patch_size": 16}' "info vision sizes"
for m in clip-tiny clip-tiny-f16 blip-itm-tiny blip-vqa-tiny blip-caption-tiny-bf16; do
  expect_rc 0 "info $m" "$VLP" info -m $M/$m
  has out "\"n_params\": $(n_params $m)," "info $m n_params = models_info.json"
done
has out '"dtype": "BF16"' "info bf16 dtype"
expect_rc 2 "info unknown" "$VLP" info no-such-model
VLP_HOME="$T/empty" expect_rc 0 "models on an empty cache" "$VLP" models
check "[ ! -s $T/out ]" "empty cache lists nothing"

# --- interrupted download resumes ------------------------------------------------------------
start_server interrupt
fresh_cache 3
expect_rc 0 "pull interrupted" "$VLP" pull test/blip-caption-tiny
has log "GET /cdn/test/blip-caption-tiny/model.safetensors range=- status=200" "first GET (cut)"
has log "GET /cdn/test/blip-caption-tiny/model.safetensors range=bytes=4319896- status=206" "resumed with Range"
check "cmp -s $M/blip-caption-tiny/model.safetensors $(SNAP blip-caption-tiny)/model.safetensors" "resumed file identical"

# a partial file from an earlier run is resumed too
start_server normal
fresh_cache 4
mkdir -p "$(SNAP blip-caption-tiny)"
head -c 3000000 $M/blip-caption-tiny/model.safetensors >"$(SNAP blip-caption-tiny)/model.safetensors.incomplete"
expect_rc 0 "pull resumes a partial file" "$VLP" pull test/blip-caption-tiny
has log "range=bytes=3000000- status=206" "partial file resumed with Range"
check "cmp -s $M/blip-caption-tiny/model.safetensors $(SNAP blip-caption-tiny)/model.safetensors" "resumed file identical"
check "[ ! -e $(SNAP blip-caption-tiny)/model.safetensors.incomplete ]" "partial file renamed"

# --- Ctrl-C stops a download through the progress callback; the part is kept and resumed ----
start_server slow
fresh_cache 60
"$VLP" pull test/blip-caption-tiny >"$T/out" 2>"$T/err" &
PULL_PID=$!
PART=$(SNAP blip-caption-tiny)/model.safetensors.incomplete
for _ in $(seq 200); do [ -s "$PART" ] && break; sleep 0.05; done
sleep 0.3
kill -INT $PULL_PID
wait $PULL_PID
rc=$?
check "[ $rc = 130 ]" "pull stopped by SIGINT exits 130 (got $rc; $(head -c 300 "$T/err"))"
has err "download cancelled (what arrived is kept: run vlp pull again to resume)" "cancel is named"
check "[ -s $PART ]" "the partial download is kept"
check "[ ! -e $VLP_HOME/models--test--blip-caption-tiny/refs/main ]" "no ref for a cancelled pull"
kept=$(stat -c %s "$PART" 2>/dev/null || echo 0)
start_server normal
expect_rc 0 "pull after a cancel" "$VLP" pull test/blip-caption-tiny
has log "range=bytes=$kept- status=206" "the cancelled download resumed where it stopped"
check "cmp -s $M/blip-caption-tiny/model.safetensors $(SNAP blip-caption-tiny)/model.safetensors" "resumed file identical"

# --- corrupted download is refused and removed ----------------------------------------------
start_server corrupt
fresh_cache 5
expect_rc 1 "pull corrupted" "$VLP" pull test/blip-caption-tiny
has err "model.safetensors: checksum mismatch" "checksum error names the file"
has out '"error": ' "error object on stdout"
check "[ ! -e $(SNAP blip-caption-tiny)/model.safetensors ]" "corrupt file not placed"
check "[ ! -e $(SNAP blip-caption-tiny)/model.safetensors.incomplete ]" "corrupt download removed"
check "[ ! -e $VLP_HOME/models--test--blip-caption-tiny/refs/main ]" "no ref for a failed pull"
expect_rc 2 "failed pull is not a model" "$VLP" caption -m blip-caption-tiny $IMG

# --- errors name the file -------------------------------------------------------------------
start_server normal
fresh_cache 6
expect_rc 1 "pull unknown repo" "$VLP" pull test/nope
has err "test/nope: config.json: HTTP 404" "unknown repo: 404 naming the file"
expect_rc 1 "pull missing revision" "$VLP" pull test/blip-caption-tiny --revision missing-rev
has err "config.json: HTTP 404: no such revision" "missing revision"
expect_rc 1 "pull without preprocessor" "$VLP" pull test/noprep
has err "test/noprep: preprocessor_config.json: HTTP 404" "missing required file named"
expect_rc 1 "pull without weights" "$VLP" pull test/noweights
has err "no model.safetensors or model.safetensors.index.json" "missing weights"
expect_rc 1 "pull bad id" "$VLP" pull "../etc"
has err "not a repository id" "bad repo id"
expect_rc 1 "pull bad revision" "$VLP" pull test/blip-caption-tiny --revision "../x"
HF_ENDPOINT="ftp://127.0.0.1:9" expect_rc 1 "pull bad endpoint" "$VLP" pull test/blip-caption-tiny
has err "not an http(s) URL" "bad endpoint"
HF_ENDPOINT="http://127.0.0.1:9" expect_rc 1 "pull closed port" "$VLP" pull test/blip-caption-tiny
has err "127.0.0.1:9" "connection error names the URL"

# --- sharded checkpoints ---------------------------------------------------------------------
expect_rc 0 "caption sharded folder" "$VLP" caption -m "$T/sharded" $IMG
check "cmp -s $T/want $T/out" "sharded copy captions identically"
expect_rc 0 "pull sharded" "$VLP" pull test/blip-sharded
has out '"model.safetensors.index.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"' "pull lists the shards"
has log "GET /cdn/test/blip-sharded/model-00003-of-00003.safetensors range=- status=200" "shards downloaded"
expect_rc 0 "caption pulled shards" "$VLP" caption -m blip-sharded $IMG
check "cmp -s $T/want $T/out" "pulled sharded model captions identically"
expect_rc 0 "info sharded" "$VLP" info blip-sharded
has out "\"n_params\": $(n_params blip-caption-tiny), \"n_tensors\": 92, \"weight_files\": 3," "sharded info counts all shards"

# a sharded CLIP checkpoint embeds identically
mkdir -p "$T/clip-sharded"
"$SHARD" $M/clip-tiny/model.safetensors "$T/clip-sharded" 2 || bad "pull_shard clip failed"
for f in $M/clip-tiny/*; do
  case $f in */model.safetensors) ;; *) cp "$f" "$T/clip-sharded/" ;; esac
done
"$VLP" embed -m $M/clip-tiny --image $IMG --text "a photo of a cat" >"$T/want" 2>/dev/null
expect_rc 0 "embed sharded clip" "$VLP" embed -m "$T/clip-sharded" --image $IMG --text "a photo of a cat"
check "[ -s $T/want ] && cmp -s $T/want $T/out" "sharded CLIP embeds identically"

# every request went to the local server
check "! grep -qv '^\(HEAD\|GET\) /' $T/log" "only hub requests in the server log"

finish
