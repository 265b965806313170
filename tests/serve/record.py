#!/usr/bin/env python3
"""Records the HTTP requests that real clients send, for the compatibility tests.

Run by hand (needs node >= 18 and python3-requests), not by the tests:
    python3 tests/serve/record.py tests/golden/images/coffee.jpg tests/serve/recorded

- immich's server (server/src/repositories/machine-learning.repository.ts) posts to
  /predict a FormData with "entries" (JSON) and either "image" (a Blob of the file, so the
  part is named "blob") or "text"; it uses Node's global fetch, as replayed here with the
  same calls.
- clip-retrieval's ClipClient (clip_retrieval/clip_client.py) posts json.dumps({...}) with
  requests.post(url, data=...) and no Content-Type: the same call is made here.
Each request is saved byte for byte as NAME.http.
"""
import json
import os
import socket
import subprocess
import sys
import threading

import requests

image_path, out_dir = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]
names = []


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def serve():
    while True:
        conn, _ = srv.accept()
        req = read_request(conn)
        name = names.pop(0)
        with open(os.path.join(out_dir, name + ".http"), "wb") as f:
            f.write(req)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        conn.close()


threading.Thread(target=serve, daemon=True).start()

node = r"""
const { readFile } = require('node:fs/promises');
async function predict(url, payload, config) {
  const formData = new FormData();
  formData.append('entries', JSON.stringify(config));
  if ('imagePath' in payload) {
    const fileBuffer = await readFile(payload.imagePath);
    formData.append('image', new Blob([new Uint8Array(fileBuffer)]));
  } else {
    formData.append('text', payload.text);
  }
  const response = await fetch(new URL('/predict', url), { method: 'POST', body: formData });
  await response.json();
}
(async () => {
  const url = process.argv[1], image = process.argv[2];
  await predict(url, { imagePath: image }, { clip: { visual: { modelName: 'clip-tiny' } } });
  await predict(url, { text: 'a cup of coffee' },
                { clip: { textual: { modelName: 'clip-tiny', options: { language: 'en' } } } });
})();
"""
url = "http://127.0.0.1:%d" % port
names += ["immich_visual", "immich_textual"]
subprocess.run(["node", "-e", node, url, image_path], check=True)


def clip_client(**query):
    body = {"text": None, "image": None, "image_url": None, "embedding_input": None,
            "deduplicate": True, "use_safety_model": True, "use_violence_detector": True,
            "indice_name": "golden", "use_mclip": False, "aesthetic_score": 9,
            "aesthetic_weight": 0.5, "modality": "image", "num_images": 3,
            "num_result_ids": 3, "verbose": False}
    body.update(query)
    requests.post(url + "/knn-service", data=json.dumps(body), timeout=30).json()


import base64
names.append("knn_text")
clip_client(text="a cup of coffee")
names.append("knn_image")
clip_client(image=base64.b64encode(open(image_path, "rb").read()).decode("utf-8"))
names.append("knn_embedding")
clip_client(embedding_input=[1.0] + [0.0] * 31)
print("recorded into", out_dir)
