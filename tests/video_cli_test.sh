#!/usr/bin/env bash
# video_cli_test: `vlp video tag`, `vlp video caption` and `vlp embed --video` as scripts use
# them, on the golden slideshow videos (photo i shown for frames 50i .. 50i+49 at 25 fps) and
# the golden tiny models: timestamps, segments, WebVTT, errors and exit codes. Every command
# runs under `timeout` (no hang) and no run may print a sanitizer report.
# usage: video_cli_test.sh PATH/TO/vlp   (run from tests/)
set -u
VLP=$1
. "$(dirname "$0")/testlib.sh"
V=$G/video
VIDEOS="$V/slideshow_h264.mp4 $V/slideshow_vp9.webm $V/slideshow_mjpeg.avi"
# Labels picked once so that clip-tiny's best label differs for each photo of the slideshow
# (the tiny model is random-ish: ordinary words would not separate the photos).
LABELS=dudley,riviera,bees,flats,blockade,brain,kins,froze

# the "frame" values of out, space separated
frames() { grep -o '"frame": [0-9]*' "$T/out" | sed 's/"frame": //' | tr '\n' ' ' | sed 's/ $//'; }
same() { if [ "$1" = "$2" ]; then ok; else bad "$3: got '$1', expected '$2'"; fi; }

# --- usage ---------------------------------------------------------------------------
expect_rc 0 "video --help" "$VLP" video --help
has out "usage: vlp video tag" "video --help"
has out "--scenes" "video --help lists sampling"
expect_rc 0 "video tag --help" "$VLP" video tag --help
expect_rc 2 "video without subcommand" "$VLP" video
expect_rc 2 "video bad subcommand" "$VLP" video frobnicate x.mp4
expect_rc 2 "tag without labels" "$VLP" video tag -m $M/clip-tiny $V/slideshow_h264.mp4
has err "no labels" "no labels message"
expect_rc 2 "tag --every 0" "$VLP" video tag -m $M/clip-tiny --labels a,b --every 0 $V/slideshow_h264.mp4
expect_rc 2 "tag --every x" "$VLP" video tag -m $M/clip-tiny --labels a,b --every xs $V/slideshow_h264.mp4
expect_rc 2 "tag --format xml" "$VLP" video tag -m $M/clip-tiny --labels a,b --format xml $V/slideshow_h264.mp4
expect_rc 2 "tag --scenes 3" "$VLP" video tag -m $M/clip-tiny --labels a,b --scenes=3 $V/slideshow_h264.mp4
expect_rc 2 "tag with a BLIP model" "$VLP" video tag -m $M/blip-caption-tiny --labels a,b $V/slideshow_h264.mp4
has err "CLIPModel" "wrong model message"
expect_rc 2 "caption with a CLIP model" "$VLP" video caption -m $M/clip-tiny $V/slideshow_h264.mp4
expect_rc 0 "embed --help" "$VLP" embed --help
has out "--video" "embed --help mentions --video"

# --- FFmpeg's libraries are opened by the first video, not when vlp starts -------------------
expect_rc 0 "embed an image, loader traced" env LD_DEBUG=files "$VLP" embed -m $M/clip-tiny \
  --image $G/images/coffee.jpg
hasnt err "file=libavformat" "an image run does not load FFmpeg"
expect_rc 0 "embed a video, loader traced" env LD_DEBUG=files "$VLP" embed -m $M/clip-tiny \
  --every 8 --video $V/slideshow_h264.mp4
has err "file=libavformat" "a video run loads FFmpeg"

# --- tag: timestamps for each sampling mode, on every video -----------------------------
for f in $VIDEOS; do
  expect_rc 0 "tag every 2s start 1 $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 2s --start 1 --top 2 "$f"
  lines out 8 "every 2s start 1 $f"
  same "$(frames)" "25 75 125 175 225 275 325 375" "every 2s start 1 frames $f"
  has out "{\"video\": \"$f\", \"t\": 1, \"frame\": 25, \"tags\": [{\"label\": \"dudley\", \"score\": " "first frame line $f"
  has out "\"t\": 15, \"frame\": 375" "last frame t $f"
  expect_rc 0 "tag fps 0.5 $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --fps 0.5 --top 1 "$f"
  same "$(frames)" "0 50 100 150 200 250 300 350" "fps 0.5 frames $f"
  expect_rc 0 "tag scenes $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --scenes --top 1 "$f"
  same "$(frames)" "0 50 100 150 200 250 300 350" "scenes: every photo change and nothing else $f"
  expect_rc 0 "tag scenes 0.05 from 9 s $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --scenes 0.05 --start 9 --top 1 "$f"
  same "$(frames)" "225 250 300 350" "scenes from 9 s $f"
  expect_rc 0 "tag keyframes $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --keyframes --max-frames 3 --top 1 "$f"
  has out '"t": 0, "frame": 0' "keyframes start at frame 0 $f"
  expect_rc 0 "tag every 0.2 start 3 end 4 $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 0.2 --start 3 --end 4 "$f"
  same "$(frames)" "75 80 85 90 95" "every 0.2 in [3, 4) $f"
  # --segments: one segment per photo, boundaries at the photo changes, the video's end last
  expect_rc 0 "segments $f" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 0.5 --segments "$f"
  lines out 8 "segments: one per photo $f"
  has out "{\"video\": \"$f\", \"start\": 0, \"end\": 2, \"label\": \"dudley\", \"score\": " "first segment $f"
  has out '"start": 6, "end": 8, "label": "flats"' "segment 3 $f"
  has out '"start": 14, "end": 16, "label": "froze"' "last segment ends at the video's end $f"
done
expect_rc 0 "segments every frame" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --all-frames --segments $V/slideshow_h264.mp4
lines out 8 "segments over all 400 frames"
expect_rc 0 "segments with --end" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --segments --end 5 $V/slideshow_h264.mp4
lines out 3 "segments until 5 s"
has out '"start": 4, "end": 5, "label": "bees"' "last segment ends at --end"

# --- WebVTT ---------------------------------------------------------------------------
expect_rc 0 "vtt segments" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --segments --format vtt $V/slideshow_vp9.webm
head -1 "$T/out" >"$T/first"
has first "WEBVTT" "vtt header"
has out "00:00:02.000 --> 00:00:04.000" "vtt cue times"
has out "00:00:14.000 --> 00:00:16.000" "vtt last cue"
same "$(grep -c -- '-->' "$T/out")" "8" "vtt: 8 cues"
expect_rc 0 "vtt frames" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 2 --top 2 --format vtt -o "$T/cues.vtt" $V/slideshow_mjpeg.avi
cp "$T/cues.vtt" "$T/out"
has out "00:00:00.000 --> 00:00:02.000" "vtt per-frame cue"
has out "dudley (" "vtt cue text"
same "$(grep -c -- '-->' "$T/out")" "8" "vtt: a cue per sampled frame"

# --- caption ---------------------------------------------------------------------------
expect_rc 0 "caption" "$VLP" video caption -m $M/blip-caption-tiny --every 4 --max-new-tokens 5 $V/slideshow_h264.mp4
lines out 4 "caption lines"
same "$(frames)" "0 100 200 300" "caption frames"
has out '{"video": "golden/video/slideshow_h264.mp4", "t": 4, "frame": 100, "caption": ' "caption line shape"
has out '"tokens": [30522' "caption tokens start with [DEC]"

# --- embed --video ---------------------------------------------------------------------
expect_rc 0 "embed --video" "$VLP" embed -m $M/clip-tiny --every 8 --npy "$T/e.npy" --video $V/slideshow_vp9.webm $V/slideshow_mjpeg.avi
lines out 4 "embed: a line per sampled frame"
has out '{"input": "golden/video/slideshow_vp9.webm", "t": 8, "frame": 200, "embedding": [' "embed line shape"
head -c 128 "$T/e.npy" >"$T/hdr"
has hdr "'shape': (4, 32)" "embed --video --npy shape"
expect_rc 0 "embed image and video" "$VLP" embed -m $M/clip-tiny --image $G/images/astronaut.png --video $V/slideshow_h264.mp4 --scenes
lines out 9 "embed image + 8 scene frames"

# --- index: a video adds one entry per sampled frame; search answers with the moment ----------
expect_rc 0 "index build with a video" "$VLP" index build -m $M/clip-tiny -o "$T/ix" --every 2 --start 1 $V/slideshow_h264.mp4 $G/images/astronaut.png
has out '"files": 9, "embedded": 9' "index: 8 frames + 1 image"
VABS=$(cd $V && pwd)/slideshow_h264.mp4
for i in 0 1 2 3 4 5 6 7; do
  expect_rc 0 "search by source frame $i" "$VLP" search "$T/ix" --image $V/frames/segment0$i.png -k 1
  has out "{\"rank\": 1, \"path\": \"$VABS\", \"t\": $((2 * i + 1)), \"score\": " "search: segment $i is found at its moment"
done
expect_rc 0 "index rebuild" "$VLP" index build -m $M/clip-tiny -o "$T/ix" --every 2 --start 1 $V/slideshow_h264.mp4 $G/images/astronaut.png
has out '"files": 9, "embedded": 0, "unchanged": 9' "index rebuild reuses the frames"
expect_rc 0 "index with BLIP ITM" "$VLP" index build -m $M/blip-itm-tiny -o "$T/ixb" --scenes $V/slideshow_vp9.webm
has out '"files": 8' "index: a frame per scene"
expect_rc 0 "search rerank decodes frames" "$VLP" search "$T/ixb" "a cat" --rerank 3 -k 3
lines out 3 "rerank lines"
has out '"t": ' "rerank lines have t"
has out '"itm": ' "rerank scored the frames"
head -c 30000 $V/slideshow_h264.mp4 >"$T/cut2.mp4"
expect_rc 1 "index build with a damaged video" "$VLP" index build -m $M/clip-tiny -o "$T/ix2" --every 1 "$T/cut2.mp4"
has out "truncated video" "index: damaged video reported"

# --- errors: clear one-line messages naming the file, exit code 1 ---------------------------
head -c 70000 $V/slideshow_h264.mp4 >"$T/cut.mp4"
expect_rc 1 "truncated mp4" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 1 --top 1 "$T/cut.mp4"
same "$(frames)" "0 25 50 75 100 125 150 175" "truncated: the frames before the damage"
has out "{\"video\": \"$T/cut.mp4\", \"error\": \"$T/cut.mp4: truncated video" "truncated: error object"
lines err 1 "truncated: one line on stderr"
head -c 40000 $V/slideshow_vp9.webm >"$T/cut.webm"
expect_rc 1 "truncated webm segments" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --every 0.5 --segments "$T/cut.webm"
has out '"start": 6, "end": 7.56, "label": "flats"' "truncated: segments before the damage (the last ends a frame after its last sample)"
has out "truncated video" "truncated webm message"
head -c 500000 $V/slideshow_mjpeg.avi >"$T/cut.avi"
expect_rc 1 "truncated avi embed" "$VLP" embed -m $M/clip-tiny --every 1 --video "$T/cut.avi"
has err "$T/cut.avi: damaged or truncated video" "truncated avi message"
: >"$T/zero.mp4"
expect_rc 1 "zero-byte file" "$VLP" video tag -m $M/clip-tiny --labels $LABELS "$T/zero.mp4"
has err "$T/zero.mp4: empty file" "zero-byte message"
printf 'just some text, not a video\n' >"$T/notes.mp4"
expect_rc 1 "text named .mp4" "$VLP" video tag -m $M/clip-tiny --labels $LABELS "$T/notes.mp4"
has err "$T/notes.mp4: not a video file" "text file message"
# 0.25 s of 8 kHz mono 16-bit silence
{ printf 'RIFF\xc4\x0f\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\xa0\x0f\x00\x00'; head -c 4000 /dev/zero; } >"$T/audio.wav"
expect_rc 1 "audio only" "$VLP" video caption -m $M/blip-caption-tiny "$T/audio.wav"
has err "$T/audio.wav: no video stream" "audio-only message"
LC_ALL=C sed 's/MJPG/ZZZZ/g' $V/slideshow_mjpeg.avi >"$T/unknown.avi"
expect_rc 1 "unsupported codec" "$VLP" embed -m $M/clip-tiny --video "$T/unknown.avi"
has err "$T/unknown.avi: no decoder for the video codec" "unsupported codec message"
lines err 1 "unsupported codec: one line"
expect_rc 1 "missing file" "$VLP" video tag -m $M/clip-tiny --labels $LABELS "$T/missing.mp4"
has err "$T/missing.mp4: cannot open" "missing file message"
# a bad video among good ones: the good ones are done, exit code 1
expect_rc 1 "mixed inputs" "$VLP" video tag -m $M/clip-tiny --labels $LABELS --scenes --top 1 "$T/zero.mp4" $V/slideshow_h264.mp4
lines out 9 "mixed: error object + 8 frames"

finish
