#!/usr/bin/env python3
"""vlp serve under load (127.0.0.1 only, bounded): N mixed requests from C concurrent
keep-alive clients (asyncio), malformed requests mixed in. Fails on any unexpected status
or dropped connection, on a server crash, or when the resident memory after the run grew
more than --mem-bound MB over the memory after warm-up. Prints p50 / p99 latency and
throughput.
usage: load_test.py VLP [--requests N] [--clients C] [--batch B] [--mix mixed|embed-image]
                        [--summary FILE]"""
import argparse
import asyncio
import base64
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import GOLDEN, MODELS, Server, build_index, multipart  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("vlp")
ap.add_argument("--requests", type=int, default=2000)
ap.add_argument("--clients", type=int, default=32)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--batch-wait", type=int, default=2)
ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--mix", default="mixed", choices=["mixed", "embed-image"])
ap.add_argument("--warmup", type=int, default=400)
ap.add_argument("--mem-bound", type=float, default=64, help="MB of growth allowed after warm-up")
ap.add_argument("--summary")
args = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="vlp-serve-load-")
ix = build_index(args.vlp, tmp)
img = {n: open(os.path.join(GOLDEN, "images", n), "rb").read() for n in ["coffee.jpg", "rocket.jpg", "chelsea_cat.png"]}
b64 = {n: base64.b64encode(v).decode() for n, v in img.items()}


def req(method, path, body=b"", ctype=None):
    h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (method, path, len(body))
    if ctype:
        h += "Content-Type: %s\r\n" % ctype
    return (h + "\r\n").encode() + body


def js(path, obj):
    return req("POST", path, json.dumps(obj).encode(), "application/json")


def predict():
    body, hd = multipart({"entries": json.dumps({"clip": {"visual": {"modelName": "clip-tiny"}}})},
                         [("image", "blob", img["rocket.jpg"])])
    return req("POST", "/predict", body, hd["Content-Type"])


# (weight, name, request bytes, expected status)
MIXED = [
    (20, "search text", lambda: js("/v1/search", {"text": random.choice(["a cat", "coffee", "a rocket launch", "stars"]), "k": 5}), 200),
    (15, "embed text", lambda: js("/v1/embeddings", {"input": ["photo %d" % random.randrange(1000)]}), 200),
    (15, "embed image", lambda: js("/v1/embeddings", {"input": [{"image": b64[random.choice(list(b64))]}]}), 200),
    (10, "immich predict", predict, 200),
    (10, "more like this", lambda: js("/v1/search", {"id": random.randrange(5), "k": 5}), 200),
    (5, "knn text", lambda: js("/knn-service", {"text": "a cup", "modality": "image", "num_images": 3, "indice_name": "golden"}), 200),
    (5, "caption", lambda: req("POST", "/v1/caption", img["coffee.jpg"], "image/jpeg"), 200),
    (5, "thumb", lambda: req("GET", "/thumb/%d" % random.randrange(5)), 200),
    (3, "healthz", lambda: req("GET", "/healthz"), 200),
    (2, "malformed JSON", lambda: req("POST", "/v1/search", b'{"text": ', "application/json"), 400),
    (2, "wrong type", lambda: js("/v1/search", {"text": ["x"]}), 400),
    (2, "corrupt image", lambda: req("POST", "/v1/embeddings", os.urandom(2000), "image/png"), 400),
    (2, "unknown model", lambda: js("/v1/embeddings", {"model": "nope", "input": "x"}), 404),
    (2, "bad thumb", lambda: req("GET", "/thumb/999999"), 404),
    (2, "unknown path", lambda: req("GET", "/etc/passwd"), 404),
]
EMBED_IMAGE = [(1, "embed image", lambda: js("/v1/embeddings", {"input": [{"image": b64[random.choice(list(b64))]}]}), 200)]
MIX = MIXED if args.mix == "mixed" else EMBED_IMAGE
weights = [w for w, *_ in MIX]


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.lower() == "content-length":
            length = int(v)
        if k.lower() == "connection" and "close" in v.lower():
            close = True
    await reader.readexactly(length)
    return status, close


async def client(port, jobs, lat, failures):
    reader = writer = None
    while jobs:
        name, data, want = jobs.pop()
        for attempt in range(2):
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                t = time.perf_counter()
                writer.write(data)
                await writer.drain()
                status, close = await read_response(reader)
                lat.append(time.perf_counter() - t)
                if status != want:
                    failures.append("%s: %d (want %d)" % (name, status, want))
                if close:
                    writer.close()
                    writer = None
                break
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                writer = None
                if attempt:  # a keep-alive connection closed under us is retried once
                    failures.append("%s: %r" % (name, e))
    if writer:
        writer.close()


async def run(port, n, clients):
    picks = random.choices(MIX, weights=weights, k=n)
    jobs = [(name, make(), want) for _, name, make, want in picks]
    lat, failures = [], []
    t = time.perf_counter()
    await asyncio.gather(*[client(port, jobs, lat, failures) for _ in range(clients)])
    return time.perf_counter() - t, sorted(lat), failures


def pct(v, p):
    return v[min(len(v) - 1, int(p / 100 * len(v)))] * 1e3


random.seed(1)
if os.environ.get("ASAN_OPTIONS"):  # ASan keeps 256 MB of freed memory in quarantine by default
    os.environ["ASAN_OPTIONS"] += ":quarantine_size_mb=8:thread_local_quarantine_size_kb=64"
s = Server(args.vlp, ["-m", os.path.join(MODELS, "blip-caption-tiny"), "--index", ix, "--batch", str(args.batch),
                      "--batch-wait", str(args.batch_wait), "--workers", str(args.workers), "--queue", "1024"], tmp)
ok = True
_, _, wf = asyncio.run(run(s.port, args.warmup, args.clients))
rss_warm = s.rss_kb()
secs, lat, failures = asyncio.run(run(s.port, args.requests, args.clients))
rss_after = s.rss_kb()
metrics = s.request("GET", "/metrics")[2].decode()
items = calls = 0
for line in metrics.splitlines():
    if line.startswith("vlp_batch_size_sum{") and "other" not in line:
        items += int(line.split()[-1])
    if line.startswith("vlp_batch_size_count{") and "other" not in line:
        calls += int(line.split()[-1])
alive = s.alive()
code = s.stop()
summary = ("load: %d requests (%s), %d clients, batch %d: %.0f req/s, p50 %.1f ms, p99 %.1f ms, "
           "errors %d, mean model batch %.2f, RSS after warm-up %.1f MB, after run %.1f MB"
           % (args.requests, args.mix, args.clients, args.batch, args.requests / secs, pct(lat, 50),
              pct(lat, 99), len(failures) + len(wf), items / max(calls, 1), rss_warm / 1024, rss_after / 1024))
print(summary)
for f in (wf + failures)[:20]:
    print("FAIL:", f)
if failures or wf:
    ok = False
if not alive or code != 0:
    print("FAIL: the server died or did not exit cleanly (%s)" % code)
    ok = False
if rss_after - rss_warm > args.mem_bound * 1024:
    print("FAIL: memory grew by %.1f MB (bound %.0f MB)" % ((rss_after - rss_warm) / 1024, args.mem_bound))
    ok = False
if len(lat) != args.requests:
    print("FAIL: %d of %d requests answered" % (len(lat), args.requests))
    ok = False
if args.summary:
    with open(args.summary, "w") as f:
        f.write(summary + "\n")
if ok:
    __import__("shutil").rmtree(tmp, ignore_errors=True)
sys.exit(0 if ok else 1)
