#!/usr/bin/env bash
# without_test: a vlp built with -DVLP_WITH_HUB=OFF / -DVLP_WITH_VIDEO=OFF says so when asked
# to download or to read a video (one clear line, exit code 1 or 2, no crash), and images
# still work.
# Usage: without_test.sh VLP hub|video   (run from tests/)
set -uo pipefail
vlp=$1 part=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
case $part in
hub)
  err=$("$vlp" pull Salesforce/blip-image-captioning-base 2>&1 >/dev/null)
  rc=$?
  grep -q "built without libcurl (VLP_WITH_HUB=OFF)" <<<"$err" || fail "vlp pull said: $err"
  ;;
video)
  err=$("$vlp" video tag -m golden/models/clip-tiny --labels cat,dog \
    golden/video/slideshow_h264.mp4 2>&1 >/dev/null)
  rc=$?
  grep -q "built without FFmpeg (VLP_WITH_VIDEO=OFF)" <<<"$err" || fail "vlp video said: $err"
  ;;
esac
[ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "exit code $rc"
"$vlp" embed -m golden/models/clip-tiny --image golden/images/chelsea_cat.png >/dev/null ||
  fail "images do not work any more"
echo "ok: $part off: $(head -1 <<<"$err")"
