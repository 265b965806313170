#!/bin/bash
# serve_bench: throughput and p50 / p99 latency of `vlp serve` on the golden tiny models at
# 1, 8 and 32 concurrent clients, with dynamic batching (--batch 16, 2 ms) and without
# (--batch 1), for the mixed request set and for image embeddings only.
# usage: bench/serve_bench.sh BUILD_DIR [REQUESTS]   (127.0.0.1 only; a few minutes)
B=${1:-build} N=${2:-1000}
cd "$(dirname "$0")/../tests" || exit 2
for mix in mixed embed-image; do
  for c in 1 8 32; do
    for batch in 1 16; do
      /usr/bin/python3 serve/load_test.py "../$B/vlp" --requests "$N" --clients "$c" --batch "$batch" \
        --mix "$mix" --warmup 200 | head -1
    done
  done
done
