"""The official Python SDK (flipt-client 1.4.5 from PyPI) running on this crate's C ABI.

Run by tests/python/run.sh, which installs the wheel in a venv and replaces its bundled
libfliptengine with ours. Everything goes through the official Python API:

* every conformance vector of tests/fixtures, offline (the `snapshot` option and FALLBACK);
* polling and streaming against a fake Flipt server on 127.0.0.1;
* the get_snapshot round trip, update_authentication and close().

Prints one line per failure and ends with "N passed, M failed"; exits 1 on any failure.
"""

import base64
import ctypes
import glob
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flipt_client import FliptClient
from flipt_client.errors import EvaluationError, ValidationError
from flipt_client.models import ClientOptions, ErrorStrategy, EvaluationRequest, FetchMode

FIXTURES = sys.argv[1]
REFUSED = "http://127.0.0.1:1"  # nothing listens there: offline clients fail fast

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}"[:600], flush=True)


def dump(model):
    return json.loads(model.model_dump_json()) if hasattr(model, "model_dump_json") else json.loads(model.json())


def normalize(value):
    """The vectors' normalisation (CONFORMANCE.md), plus nulls dropped: the Python models
    cannot tell an absent key from a null one."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("timestamp", "request_duration_millis") or v is None:
                continue
            v = normalize(v)
            if k == "segment_keys" and isinstance(v, list):
                v = sorted(v)
            out[k] = v
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, float):
        # Numbers in snapshots are f32 values: compare at that precision.
        return float(f"{value:.6g}")
    return value


def seed_of(fixture):
    """The official engine's own get_snapshot output for this fixture, as a seed."""
    for case in fixture["cases"]:
        if case["type"] == "snapshot":
            text = json.dumps(case["expected"]["result"], ensure_ascii=False)
            return base64.b64encode(text.encode("utf-8")).decode("ascii")
    raise SystemExit("fixture without a snapshot case")


direct = 0  # vectors the wrapper refuses (blank keys or entities), sent through the ABI


def raw_call(client, kind, req):
    """The same library, called as the wrapper would but without its own validation."""
    global direct
    direct += 1
    lib = client.ffi_core
    fn = {"variant": lib.evaluate_variant, "boolean": lib.evaluate_boolean, "batch": lib.evaluate_batch}[kind]
    if kind == "batch":
        payload = [dict(r, namespace_key=client.namespace_key, context=r.get("context") or {}) for r in req["requests"]]
    else:
        payload = dict(req, namespace_key=client.namespace_key, context=req.get("context") or {})
    answer = fn(client.engine, json.dumps(payload).encode("utf-8"))
    text = ctypes.cast(answer, ctypes.c_char_p).value
    lib.destroy_string(answer)
    return json.loads(text)


def run_case(client, case):
    kind, req, expected = case["type"], case["request"], case["expected"]
    try:
        if kind == "variant":
            got = dump(client.evaluate_variant(req["flag_key"], req["entity_id"], req.get("context")))
        elif kind == "boolean":
            got = dump(client.evaluate_boolean(req["flag_key"], req["entity_id"], req.get("context")))
        elif kind == "batch":
            requests = [
                EvaluationRequest(flag_key=r["flag_key"], entity_id=r["entity_id"], context=r.get("context") or {})
                for r in req["requests"]
            ]
            got = dump(client.evaluate_batch(requests))
        elif kind == "list_flags":
            got = sorted((dump(f) for f in client.list_flags()), key=lambda f: f["key"])
            # The Python model keeps only some of the engine's fields: compare those.
            fields = set().union(*(f.keys() for f in got)) if got else set()
            wanted = [{k: v for k, v in f.items() if k in fields} for f in expected["result"]]
            expected = dict(expected, result=sorted(wanted, key=lambda f: f["key"]))
        elif kind == "snapshot":
            got = json.loads(base64.b64decode(client.get_snapshot()))
        else:
            return
        envelope = {"status": "success", "result": got, "error_message": None}
    except EvaluationError as e:
        envelope = {"status": "failure", "result": None, "error_message": str(e)}
    except ValidationError:
        envelope = raw_call(client, kind, req)
    check(normalize(envelope) == normalize(expected), f"{case['name']}: got {envelope} want {expected}")


def conformance():
    files = sorted(glob.glob(os.path.join(FIXTURES, "gen-seed*.json")))
    check(len(files) >= 5, "the conformance vectors are present")
    for path in files:
        with open(path, encoding="utf-8") as f:
            fixture = json.load(f)
        client = FliptClient(
            ClientOptions(
                url=REFUSED,
                namespace=fixture["namespace"],
                error_strategy=ErrorStrategy.FALLBACK,
                snapshot=seed_of(fixture),
            )
        )
        before = passed
        for case in fixture["cases"]:
            run_case(client, case)
        print(f"{os.path.basename(path)}: {passed - before} of {len(fixture['cases'])} cases agree", flush=True)
        client.close()
    print(f"({direct} cases with a blank flag key or entity id, which the wrapper refuses, went to the ABI directly)")


# ---- a fake Flipt server ----


def document(enabled):
    rollout = {"type": "THRESHOLD_ROLLOUT_TYPE", "rank": 1, "threshold": {"percentage": 100, "value": enabled}}
    flag = {"key": "f", "name": "", "description": "", "enabled": enabled, "type": "BOOLEAN_FLAG_TYPE",
            "rules": [], "rollouts": [rollout]}
    return json.dumps({"namespace": {"key": "default"}, "flags": [flag], "digest": str(enabled)})


class Fake:
    def __init__(self):
        self.enabled = True
        self.requests = []
        self.stream_lines = []  # lines waiting to be pushed to open streams
        self.lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with fake.lock:
                    fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.endswith("/stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    deadline = time.time() + 20
                    while time.time() < deadline:
                        with fake.lock:
                            fake.lock.wait(0.05)
                            lines, fake.stream_lines = fake.stream_lines, []
                        try:
                            for line in lines:
                                data = line.encode("utf-8")
                                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                body = document(fake.enabled).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def push(self, line):
        with self.lock:
            self.stream_lines.append(line + "\n")
            self.lock.notify_all()


def eventually(cond, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def enabled(client):
    return client.evaluate_boolean("f", "user", {}).enabled


def polling(fake):
    fake.enabled = True
    client = FliptClient(ClientOptions(url=fake.url, update_interval=1))
    check(enabled(client), "polling: the first snapshot is served")
    fake.enabled = False
    check(eventually(lambda: not enabled(client)), "polling: a change is picked up")

    # get_snapshot round trip: a seed from this client answers the same offline.
    seed = client.get_snapshot()
    offline = FliptClient(ClientOptions(url=REFUSED, error_strategy=ErrorStrategy.FALLBACK, snapshot=seed))
    check(not enabled(offline) and offline.get_snapshot() == seed, "get_snapshot round trip")
    offline.close()

    # update_authentication, through the ABI (the Python API of 1.4.5 does not expose it).
    lib = client.ffi_core
    lib.update_authentication.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.update_authentication.restype = ctypes.POINTER(ctypes.c_char_p)
    answer = lib.update_authentication(client.engine, b'{"client_token":"s3cret"}')
    text = ctypes.cast(answer, ctypes.c_char_p).value
    lib.destroy_string(answer)
    check(json.loads(text) == {"status": "success", "result": None, "error_message": None},
          f"update_authentication answers success: {text}")
    n = len(fake.requests)
    check(eventually(lambda: len(fake.requests) > n + 1), "polling goes on")
    auth = fake.requests[-1][1].get("authorization")
    check(auth == "Bearer s3cret", f"the next poll carries the new token: {auth}")

    started = time.time()
    client.close()
    took = time.time() - started
    check(took < 1.0, f"close() took {took:.3f} s")
    print(f"polling: close() returned in {took * 1000:.1f} ms", flush=True)


def streaming(fake):
    fake.enabled = True
    client = FliptClient(ClientOptions(url=fake.url, fetch_mode=FetchMode.STREAMING))
    check(enabled(client), "streaming: the first snapshot is served")
    check(eventually(lambda: any(p.endswith("/stream") for p, _ in fake.requests)), "streaming: the stream is opened")
    fake.push(json.dumps({"result": json.loads(document(False))}))
    check(eventually(lambda: not enabled(client)), "streaming: a pushed snapshot is applied")
    fake.push('{"error":{"code":13,"message":"boom"}}')

    def reports(word):
        try:
            enabled(client)
            return False
        except EvaluationError as e:
            return word in str(e)

    check(eventually(lambda: reports("boom")), "streaming: an error line is reported under FAIL")
    fake.push(json.dumps({"result": json.loads(document(True))}))

    def recovered():
        try:
            return enabled(client)
        except EvaluationError:
            return False

    check(eventually(recovered), "streaming: the next good line recovers")
    started = time.time()
    client.close()
    took = time.time() - started
    check(took < 1.0, f"streaming close() took {took:.3f} s")


def main():
    conformance()
    fake = Fake()
    polling(fake)
    streaming(fake)
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


main()
