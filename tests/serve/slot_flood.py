#!/usr/bin/env python3
"""Slot history requests against a running tracer: `slot_flood.py PORT
flood` or `slot_flood.py PORT same`. The tracer must serve a history
(/api/history) with at least one slab.

flood: while a client of the memory stream counts its ticks, 8 keep-alive
clients ask /api/history/slot for a new slot each time (never the same
twice: no answer kept can serve one) until the stream has had TICKS ticks
since they began. A slot history scan starts at most once per 100 ms, as
a tick comes (no more often) every 100 ms: the scans answered (200, or 404
for a slot the slab has not) number no more than about the ticks, the
rest are refused (429, with Retry-After of at least 1 s), and the stream
got every tick meanwhile (ids +1, times increasing).

same: a history that no longer changes (a replay at its end): the same
slot asked 50 times in a row is answered 200 each time with the same
document, its answer kept; 50 different slots in a row are not all
answered (429 with Retry-After). Prints ok/FAIL lines; exits 1 on a miss."""
import http.client, json, socket, sys, threading

PORT, MODE = int(sys.argv[1]), sys.argv[2]
TICKS = 30		# ticks of the stream the flood lasts
CAP = 60000		# requests at most, should the ticks stop
fails = 0


def check(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    fails += not ok


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.getheader("Retry-After"), r.read()


def first_slab():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    status, _, body = get(conn, "/api/history")
    conn.close()
    slabs = json.loads(body)["slabs"] if status == 200 else []
    if not slabs:
        print("FAIL: /api/history: %d, no slab" % status)
        sys.exit(1)
    return slabs[0]["system"], slabs[0]["slab"]


class Stream(threading.Thread):
    """The memory stream's events, as (id, ts_ms), over HTTP/1.0 (not
    chunked)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.events, self.lock = [], threading.Lock()
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        self.sock.sendall(b"GET /api/diagnostics/memory/stream HTTP/1.0\r\n"
                          b"Host: 127.0.0.1\r\n\r\n")

    def run(self):
        eid = None
        try:
            for line in self.sock.makefile("rb"):
                if line.startswith(b"id: "):
                    eid = int(line[4:])
                elif line.startswith(b"data: ") and eid is not None:
                    ts = json.loads(line[6:]).get("ts_ms")
                    with self.lock:
                        self.events.append((eid, ts))
        except OSError:
            pass

    def count(self):
        with self.lock:
            return len(self.events)


def flood():
    system, slab = first_slab()
    stream = Stream()
    stream.start()
    while stream.count() < 3:	# live: its first events came
        if not stream.is_alive():
            check(False, "the memory stream ended before its third event")
            return
        threading.Event().wait(0.05)
    begun = stream.count()
    counts, retry_bad, lock = {}, [], threading.Lock()
    nxt = [0]
    stop = threading.Event()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        while not stop.is_set():
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= CAP:
                return
            status, retry, _ = get(conn, "/api/history/slot?system=%d&slab=%s"
                                   "&slot=%d" % (system, slab, i))
            with lock:
                counts[status] = counts.get(status, 0) + 1
                if status == 429 and not (retry and retry.isdigit()
                                          and int(retry) >= 1):
                    retry_bad.append(retry)
        conn.close()

    clients = [threading.Thread(target=client) for _ in range(8)]
    for c in clients:
        c.start()
    while stream.count() - begun < TICKS and nxt[0] < CAP:
        threading.Event().wait(0.02)
    stop.set()
    for c in clients:
        c.join()
    ended = stream.count()
    with stream.lock:
        during = stream.events[begun - 1:ended]
    ticks = ended - begun
    scans = counts.get(200, 0) + counts.get(404, 0)
    refused = counts.get(429, 0)
    other = sum(n for s, n in counts.items() if s not in (200, 404, 429))
    print("requests %d: %s; %d ticks meanwhile" %
          (sum(counts.values()), json.dumps(counts, sort_keys=True), ticks))
    check(ticks >= TICKS, "the stream had %d ticks while %d slot requests "
          "were made (at most %d)" % (ticks, nxt[0], CAP))
    check(all(b[0] == a[0] + 1 for a, b in zip(during, during[1:])) and
          all(b[1] > a[1] for a, b in zip(during, during[1:])),
          "every tick meanwhile on the stream: ids +1, times increasing")
    check(scans >= 1 and scans <= ticks + ticks // 2 + 2,
          "%d slot scans answered over %d ticks (one per 100 ms at most)"
          % (scans, ticks))
    check(refused > 0 and refused + scans > 4 * scans,
          "%d requests refused with 429 beyond the limit" % refused)
    check(not retry_bad, "every 429 says Retry-After, at least 1 s (%s)"
          % (retry_bad[:3] or "all did"))
    check(other == 0, "no other status")


def same():
    system, slab = first_slab()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    path = "/api/history/slot?system=%d&slab=%s&slot=" % (system, slab)
    answers = [get(conn, path + "0") for _ in range(50)]
    check(all(a[0] == 200 for a in answers) and
          len(set(a[2] for a in answers)) == 1,
          "the same slot asked 50 times in a row: 50 times 200, the same "
          "document (%s)" % sorted(set(a[0] for a in answers)))
    others = [get(conn, path + str(i)) for i in range(1, 51)]
    refused = [a for a in others if a[0] == 429]
    check(refused and all(a[1] and a[1].isdigit() and int(a[1]) >= 1
                          for a in refused),
          "50 other slots in a row: %d refused with 429 and Retry-After"
          % len(refused))
    again = get(conn, path + "0")
    check(again[0] == 200 and again[2] == answers[0][2],
          "the first slot again, past the limit: its kept answer")
    conn.close()


flood() if MODE == "flood" else same()
sys.exit(1 if fails else 0)
