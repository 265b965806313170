"""Helpers of the vlp serve tests: build an index of the golden images, start and stop a
server on 127.0.0.1 (an ephemeral port), send requests (also raw recorded ones)."""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
MODELS = os.path.join(GOLDEN, "models")
IMAGES = ["astronaut.png", "chelsea_cat.png", "coffee.jpg", "rocket.jpg", "hubble_deep_field.jpg"]


def build_index(vlp, tmp, name="golden", model="clip-tiny"):
    """An index (folder tmp/name) of the five golden photos; returns its folder."""
    imgs = os.path.join(tmp, name + "-images")
    os.makedirs(imgs, exist_ok=True)
    for n in IMAGES:
        with open(os.path.join(GOLDEN, "images", n), "rb") as f, open(os.path.join(imgs, n), "wb") as g:
            g.write(f.read())
    out = os.path.join(tmp, name)
    subprocess.run([vlp, "index", "build", "-m", os.path.join(MODELS, model), "-o", out, imgs],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


_started = []


@atexit.register
def _kill_left_over():
    """A test that stopped half-way leaves no server behind."""
    for p in _started:
        if p.poll() is None:
            p.kill()
            p.wait()


class Server:
    def __init__(self, vlp, args, log_dir):
        self.log_path = os.path.join(log_dir, "serve-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen([vlp, "serve", "--port", "0", "--quiet"] + args,
                                  stdout=subprocess.DEVNULL, stderr=self.log)
        _started.append(self.p)
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            if self.p.poll() is not None:
                raise RuntimeError("vlp serve exited: " + open(self.log_path).read())
            for line in open(self.log_path, errors="replace"):
                if "listening on http://127.0.0.1:" in line:
                    self.port = int(line.split("127.0.0.1:")[1].split()[0])
            time.sleep(0.05)
        if self.port is None:
            self.p.kill()
            raise RuntimeError("vlp serve did not start")

    def request(self, method, path, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        return st, json.loads(data)

    def raw(self, request_bytes, timeout=60):
        """Send a recorded request as it is; returns (status, headers, body)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(request_bytes)
        r = http.client.HTTPResponse(s)
        r.begin()
        data = r.read()
        s.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def rss_kb(self):
        for line in open("/proc/%d/status" % self.p.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        """SIGTERM; returns the exit code (the server drains, then exits 0)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return -9
        self.log.close()
        return self.p.returncode


def multipart(fields, files, boundary="vlp-test-boundary"):
    """A multipart/form-data body: fields {name: str}, files [(name, filename, bytes)]."""
    out = b""
    for k, v in fields.items():
        out += b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            boundary.encode(), k.encode(), v.encode())
    for name, filename, data in files:
        out += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n" % (
                    boundary.encode(), name.encode(), filename.encode())) + data + b"\r\n"
    out += b"--%s--\r\n" % boundary.encode()
    return out, {"Content-Type": "multipart/form-data; boundary=" + boundary}


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s %s" % (what, detail), flush=True)

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0
