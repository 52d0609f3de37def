#!/usr/bin/env python3
"""Independent checker for chekt-bridge fault tests (kill -9 now, a VM power cut later).

It shares no code with the agent. It reads, and only reads:

  * the agent's state folder, straight from the files (docs/storage.md's framing: magic FF 43 42, kind,
    u32 length, i64 seq, CRC-32C over bytes 3..15 + payload, CRC-32C implemented here): the outbox journal
    and its delivery mark, the results journal and its mark, the command ledger, the snapshot, the dead
    letters. Twice per cut when it can: a copy taken right after the cut ("at kill") and the live folder
    after the restart;
  * the reference platform's record through its admin API (events received with seq and id, in arrival
    order; command results with received_count; commands issued);
  * the harness's own log (JSON lines, see Tools/faults/README.md): commands issued, inputs set, events
    and status the agent acknowledged before each cut, the cuts themselves.

What it remembers between runs (every event ever observed with its seq, ack and delivery, every result
body, ...) is kept in an SQLite file (--memory), so it can be called once per cut and once at the end.
Exit status: 0 no violation in what this call checked; 1 violations (listed); 2 it could not check.
"""

import argparse
import hashlib
import json
import os
import re
import sqlite3
import struct
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

MAX_SEQ = 1 << 53
MAX_FILE_PAYLOAD = 16 * 1024 * 1024
MAX_EVENT_PAYLOAD = 256 * 1024 - 64
MAGIC = b"\xffCB"
KINDS = {ord(c): c for c in "HEFDSLX"}
EVENT_ID = re.compile(r"^evt_[0-9A-HJKMNP-TV-Z]{26}$")
DROPPABLE_NEVER = {"alarm.created", "command.result"}


class CannotCheck(Exception):
    """The checker cannot do its job (missing input, platform unreachable): exit 2, loudly."""


# ---------------------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 over 64-bit words for speed in Python.

def _crc_tables():
    t0 = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for k in range(1, 8):
        prev = tables[k - 1]
        tables.append([t0[prev[b] & 0xFF] ^ (prev[b] >> 8) for b in range(256)])
    return tables


_T = _crc_tables()


def crc32c(data, crc=0xFFFFFFFF, final=True):
    t0, t1, t2, t3, t4, t5, t6, t7 = _T
    n = len(data)
    i = 0
    mv = memoryview(data)
    words = n // 8
    if words:
        for (w,) in struct.iter_unpack("<Q", mv[: words * 8]):
            lo = (crc ^ w) & 0xFFFFFFFF
            hi = w >> 32
            crc = (t7[lo & 0xFF] ^ t6[(lo >> 8) & 0xFF] ^ t5[(lo >> 16) & 0xFF] ^ t4[lo >> 24]
                   ^ t3[hi & 0xFF] ^ t2[(hi >> 8) & 0xFF] ^ t1[(hi >> 16) & 0xFF] ^ t0[hi >> 24])
        i = words * 8
    while i < n:
        crc = t0[(crc ^ data[i]) & 0xFF] ^ (crc >> 8)
        i += 1
    return crc ^ 0xFFFFFFFF if final else crc


assert crc32c(b"123456789") == 0xE3069283, "CRC-32C self-test failed"


# ---------------------------------------------------------------------------------------------------------
# Record files

class Record:
    __slots__ = ("offset", "kind", "seq", "payload")

    def __init__(self, offset, kind, seq, payload):
        self.offset, self.kind, self.seq, self.payload = offset, kind, seq, payload


def seq_range(kind):
    if kind == "E":
        return (1, MAX_SEQ)
    if kind in "HFD":
        return (0, MAX_SEQ)
    return None


def check_at(data, p, max_payload=MAX_FILE_PAYLOAD):
    """('ok', Record, size) | ('needs', total) | ('bad', reason) for the record that should start at p."""
    n = len(data) - p
    for i in range(min(3, n)):
        if data[p + i] != MAGIC[i]:
            return ("bad", "bad magic")
    if n >= 4 and data[p + 3] not in KINDS:
        return ("bad", "unknown kind 0x%02x" % data[p + 3])
    if n < 20:
        return ("needs", 20)
    kind = KINDS[data[p + 3]]
    length, seq, stored = struct.unpack_from("<IqI", data, p + 4)
    if length > max_payload:
        return ("bad", "impossible length %d" % length)
    if n < 20 + length:
        return ("needs", 20 + length)
    crc = crc32c(data[p + 3:p + 16], final=False)
    crc = crc32c(data[p + 20:p + 20 + length], crc)
    if crc != stored:
        return ("bad", "checksum mismatch")
    r = seq_range(kind)
    if r and not (r[0] <= seq <= r[1]):
        return ("bad", "seq %d out of range" % seq)
    return ("ok", Record(p, kind, seq, bytes(data[p + 20:p + 20 + length])), 20 + length)


class Scan:
    def __init__(self, path):
        self.path = path
        self.records = []
        self.damage = []        # (offset, length, reason) in the middle
        self.torn_tail = None   # (offset, length, reason) at the end
        self.size = 0
        self.missing = False


def scan_file(path):
    s = Scan(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        s.missing = True
        return s
    s.size = len(data)
    p = 0
    while p < len(data):
        r = check_at(data, p)
        if r[0] == "ok":
            s.records.append(r[1])
            p += r[2]
            continue
        reason = r[1] if r[0] == "bad" else "incomplete record (%d of %d bytes)" % (len(data) - p, r[1])
        # Resynchronise: the next offset where a whole record verifies.
        q = data.find(MAGIC, p + 1)
        while q != -1:
            if check_at(data, q)[0] == "ok":
                break
            q = data.find(MAGIC, q + 1)
        if q == -1:
            s.torn_tail = (p, len(data) - p, reason)
            break
        s.damage.append((p, q - p, reason))
        p = q
    return s


def load_json(b):
    return json.loads(b.decode("utf-8"))


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj):
    return hashlib.sha1(canon(obj).encode()).hexdigest()


def event_digest(e):
    return digest({"seq": e["seq"], "type": e["type"], "occurred_at": e["occurred_at"], "data": e["data"]})


class JournalView:
    """One journal file (outbox or results) as found, with what is wrong with it."""

    def __init__(self, path, label):
        self.path, self.label = path, label
        self.events = []          # event dicts in file order
        self.floors = []          # (kind, seq)
        self.dropped = 0
        self.problems = []        # violations: the format's promises broken
        self.notes = []           # damage the agent is meant to handle (reported, not a violation here)
        self.last_seq = 0         # highest event seq or floor
        self.missing = False
        self.torn = None
        s = scan_file(path)
        self.missing = s.missing
        if s.missing:
            return
        self.size = s.size
        self.torn = s.torn_tail
        for off, length, why in s.damage:
            self.notes.append("%s: %d damaged byte(s) at offset %d (%s)" % (label, length, off, why))
        if s.torn_tail:
            self.notes.append("%s: %d byte(s) at the end are not a whole record (%s) - a write cut short"
                              % (label, s.torn_tail[1], s.torn_tail[2]))
        highest = 0          # the highest event seq or 'F' floor so far, in file order
        header_floor = 0
        for i, rec in enumerate(s.records):
            if rec.kind == "H":
                if rec.offset != 0:
                    self.problems.append("%s: a header record at offset %d (only offset 0 may hold one)" % (label, rec.offset))
                try:
                    h = load_json(rec.payload)
                    self.dropped = int(h.get("dropped", 0))
                    if h.get("format") != 1:
                        self.problems.append("%s: header format %r, expected 1" % (label, h.get("format")))
                except Exception as e:  # noqa: BLE001
                    self.problems.append("%s: header payload unreadable: %s" % (label, e))
                # The header's floor numbers new events above it; the events compaction kept are below it, so it
                # bounds nothing in the file itself.
                self.floors.append(("H", rec.seq))
                header_floor = rec.seq
            elif rec.kind == "F":
                self.floors.append(("F", rec.seq))
                highest = max(highest, rec.seq)
            elif rec.kind == "E":
                if len(rec.payload) > MAX_EVENT_PAYLOAD:
                    self.problems.append("%s: event seq %d has a %d-byte payload, over the limit" % (label, rec.seq, len(rec.payload)))
                try:
                    e = load_json(rec.payload)
                except Exception as ex:  # noqa: BLE001
                    self.problems.append("%s: event record at offset %d is not JSON: %s" % (label, rec.offset, ex))
                    continue
                if sorted(e.keys()) != ["data", "id", "occurred_at", "seq", "type"]:
                    self.problems.append("%s: event at offset %d has keys %s" % (label, rec.offset, sorted(e.keys())))
                if e.get("seq") != rec.seq:
                    self.problems.append("%s: event at offset %d: record seq %d, payload seq %r" % (label, rec.offset, rec.seq, e.get("seq")))
                if not EVENT_ID.match(str(e.get("id", ""))):
                    self.problems.append("%s: event seq %d has a malformed id %r" % (label, rec.seq, e.get("id")))
                if rec.seq <= highest:
                    self.problems.append("%s: event seq %d at offset %d is not above the seq %d before it (seqs must strictly increase)"
                                         % (label, rec.seq, rec.offset, highest))
                highest = max(highest, rec.seq)
                self.events.append(e)
            else:
                self.problems.append("%s: a '%s' record at offset %d in a journal" % (label, rec.kind, rec.offset))
        if s.records and s.records[0].kind != "H":
            self.problems.append("%s: the first record is '%s', not the header" % (label, s.records[0].kind))
        self.last_seq = max(highest, header_floor)


def read_mark(path, label):
    """(mark or None, problem or None)"""
    s = scan_file(path)
    if s.missing:
        return None, None
    if len(s.records) != 1 or s.damage or s.torn_tail or s.records[0].kind != "D":
        return None, "%s: not a single verified 'D' record (%d records, damage %s, tail %s)" % (
            label, len(s.records), s.damage, s.torn_tail)
    rec = s.records[0]
    try:
        m = load_json(rec.payload).get("delivered_through")
    except Exception as e:  # noqa: BLE001
        return None, "%s: payload unreadable: %s" % (label, e)
    if m != rec.seq:
        return None, "%s: record seq %d but payload says %r" % (label, rec.seq, m)
    return rec.seq, None


def read_snapshot(path, label, with_seq=False):
    s = scan_file(path)
    if s.missing:
        return (None, None, None) if with_seq else (None, None)
    if len(s.records) != 1 or s.damage or s.torn_tail or s.records[0].kind != "S":
        problem = "%s: not a single verified 'S' record" % label
        return (None, None, problem) if with_seq else (None, problem)
    try:
        doc = load_json(s.records[0].payload)
    except Exception as e:  # noqa: BLE001
        problem = "%s: payload is not JSON: %s" % (label, e)
        return (None, None, problem) if with_seq else (None, problem)
    return (doc, s.records[0].seq, None) if with_seq else (doc, None)


def effective_snapshot(root, outbox, outbox_mark, label):
    """docs/storage.md, "A step's state and its events commit together": a state.snapshot.next whose record seq
    (the step's last event) is in the outbox journal, or delivered, is the state the agent restores; one whose
    events are not recorded (or a damaged one, being written before any append) is not. Returns the snapshot
    document, where it came from, and a problem (state.snapshot's own)."""
    base, problem = read_snapshot(os.path.join(root, "state.snapshot"), label + " state.snapshot")
    ahead, seq, _ = read_snapshot(os.path.join(root, "state.snapshot.next"), label + " state.snapshot.next", with_seq=True)
    if ahead is not None and seq is not None:
        recorded = any(e.get("seq") == seq for e in outbox.events) or (outbox_mark is not None and seq <= outbox_mark)
        if recorded:
            return ahead, "state.snapshot.next (its step's events through seq %d recorded)" % seq, None
    return base, "state.snapshot", problem


def read_log_records(path, kind, label):
    """Payload dicts of a ledger ('L') or dead-letter ('X') file, with problems and notes."""
    s = scan_file(path)
    out, problems, notes = [], [], []
    if s.missing:
        return out, problems, notes
    for off, length, why in s.damage:
        notes.append("%s: %d damaged byte(s) at offset %d (%s)" % (label, length, off, why))
    if s.torn_tail:
        notes.append("%s: %d byte(s) at the end are not a whole record (%s)" % (label, s.torn_tail[1], s.torn_tail[2]))
    for rec in s.records:
        if rec.kind != kind:
            problems.append("%s: a '%s' record at offset %d" % (label, rec.kind, rec.offset))
            continue
        try:
            out.append(load_json(rec.payload))
        except Exception as e:  # noqa: BLE001
            problems.append("%s: record at offset %d is not JSON: %s" % (label, rec.offset, e))
    return out, problems, notes


class StateFolder:
    """Everything the checker reads from one state folder."""

    def __init__(self, root, label):
        self.root, self.label = root, label
        if not os.path.isdir(root):
            raise CannotCheck("state folder %s does not exist" % root)
        j = os.path.join(root, "journal")
        # The marks before the journals: in a live folder a mark read first covers no event the journal read after lacks.
        self.outbox_mark, p1 = read_mark(os.path.join(j, "outbox.delivered"), label + " outbox.delivered")
        self.results_mark, p2 = read_mark(os.path.join(j, "results.delivered"), label + " results.delivered")
        self.outbox = JournalView(os.path.join(j, "outbox.journal"), label + " outbox.journal")
        self.results = JournalView(os.path.join(j, "results.journal"), label + " results.journal")
        self.snapshot, self.snapshot_source, p3 = effective_snapshot(root, self.outbox, self.outbox_mark, label)
        self.ledger, p4, n4 = read_log_records(os.path.join(root, "commands.ledger"), "L", label + " commands.ledger")
        self.dead, p5, n5 = read_log_records(os.path.join(root, "dead-letter.log"), "X", label + " dead-letter.log")
        self.problems = self.outbox.problems + self.results.problems + [p for p in (p1, p2, p3) if p] + p4 + p5
        self.notes = self.outbox.notes + self.results.notes + n4 + n5
        names = []
        for base in (root, j):
            try:
                names += [os.path.join(os.path.relpath(base, root), n) if base != root else n for n in os.listdir(base)]
            except OSError:
                pass
        self.files = sorted(names)

    def leftovers(self):
        """Files that only exist while a write is under way: what the cut interrupted."""
        out = []
        for n in self.files:
            b = os.path.basename(n)
            if b.endswith(".compacting"):
                out.append(("compaction", n))
            elif ".tmp-" in b:
                if b.startswith("state.snapshot"):
                    out.append(("snapshot", n))
                elif b.startswith("outbox.delivered") or b.startswith("results.delivered"):
                    out.append(("delivery-mark", n))
                elif b.startswith("commands.ledger"):
                    out.append(("ledger-rewrite", n))
                elif b.startswith("commands.cursor"):
                    out.append(("cursor", n))
                else:
                    out.append(("atomic-write", n))
        return out


# ---------------------------------------------------------------------------------------------------------
# Time helpers

def rfc3339_ms(text):
    """Epoch ms of '2026-12-05T02:22:45.575Z' (any fraction)."""
    if text is None:
        return None
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone.utc)
    ms = int((frac or "0")[:3].ljust(3, "0"))
    return int(dt.timestamp()) * 1000 + ms


# ---------------------------------------------------------------------------------------------------------
# Platform admin API

class Platform:
    def __init__(self, base, bridge):
        self.base = base.rstrip("/")
        self.bridge = bridge

    def get(self, path):
        url = self.base + path
        for attempt in range(5):
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    return json.loads(r.read().decode())
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                last = e
                time.sleep(0.2 * (attempt + 1))
        raise CannotCheck("platform admin API %s unreachable: %s" % (url, last))

    def events_since(self, known):
        """(new events in arrival order, report): the events after the first `known` ones."""
        head = self.get("/admin/bridges/%s/events?limit=0" % self.bridge)
        want = head["total"] - known
        limit = want + 64
        while True:
            rep = self.get("/admin/bridges/%s/events?limit=%d" % (self.bridge, max(limit, 0)))
            total = rep["total"]
            need = total - known
            if need <= len(rep["events"]):
                return rep["events"][len(rep["events"]) - need:] if need > 0 else [], rep
            limit = need + 64

    def results(self):
        return self.get("/admin/bridges/%s/results" % self.bridge)["results"]

    def commands(self):
        return self.get("/admin/bridges/%s/commands" % self.bridge)

    def requests(self):
        return self.get("/admin/bridges/%s/requests" % self.bridge)

    def state(self):
        return self.get("/admin/bridges/%s/state" % self.bridge)


# ---------------------------------------------------------------------------------------------------------
# Memory

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS events(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT, occurred_at TEXT, data TEXT,
  digest TEXT, command_id TEXT, first_source TEXT, acked_cut INTEGER, acked_how TEXT,
  platform INTEGER DEFAULT 0, platform_ms INTEGER, platform_pos INTEGER, dead INTEGER DEFAULT 0, dropped INTEGER DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_seq ON events(seq);
CREATE INDEX IF NOT EXISTS events_cmd ON events(command_id);
CREATE TABLE IF NOT EXISTS floors(seq INTEGER, kind TEXT, source TEXT);
CREATE TABLE IF NOT EXISTS commands(id TEXT PRIMARY KEY, type TEXT, params TEXT, issued_ms INTEGER, cut INTEGER, command TEXT);
CREATE TABLE IF NOT EXISTS result_bodies(command_id TEXT, digest TEXT, body TEXT, first_source TEXT, PRIMARY KEY(command_id, digest));
CREATE TABLE IF NOT EXISTS ledger_seen(command_id TEXT PRIMARY KEY, first_source TEXT);
CREATE TABLE IF NOT EXISTS kills(cut INTEGER PRIMARY KEY, t INTEGER, run INTEGER, info TEXT);
CREATE TABLE IF NOT EXISTS restarts(cut INTEGER PRIMARY KEY, t INTEGER, run INTEGER);
CREATE TABLE IF NOT EXISTS agent_starts(run INTEGER PRIMARY KEY, t INTEGER);
CREATE TABLE IF NOT EXISTS statuses(n INTEGER PRIMARY KEY AUTOINCREMENT, t INTEGER, run INTEGER, cut INTEGER, status TEXT);
CREATE TABLE IF NOT EXISTS local_requests(n INTEGER PRIMARY KEY AUTOINCREMENT, sent INTEGER, answered INTEGER, type TEXT, params TEXT, result TEXT);
CREATE TABLE IF NOT EXISTS cuts(cut INTEGER PRIMARY KEY, phases TEXT, verdict TEXT, violations INTEGER, lost INTEGER, duplicated INTEGER);
CREATE TABLE IF NOT EXISTS violations(n INTEGER PRIMARY KEY AUTOINCREMENT, cut INTEGER, kind TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS notes(n INTEGER PRIMARY KEY AUTOINCREMENT, cut INTEGER, kind TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS reported(key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS overrides(seq INTEGER, kind TEXT, entity TEXT, value TEXT);
"""


class Memory:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def meta(self, k, default=None):
        r = self.db.execute("SELECT v FROM meta WHERE k=?", (k,)).fetchone()
        return json.loads(r[0]) if r else default

    def set_meta(self, k, v):
        self.db.execute("INSERT OR REPLACE INTO meta VALUES(?,?)", (k, json.dumps(v)))


# ---------------------------------------------------------------------------------------------------------
# The checker

class Checker:
    def __init__(self, args):
        self.args = args
        self.mem = Memory(args.memory)
        self.platform = Platform(args.platform, args.bridge) if args.platform else None
        self.violations = []    # (kind, message)
        self.notes = []
        self.cut = args.cut
        self.config = self.mem.meta("config")
        self.kill_t = {}
        self.touched = set()    # command ids with something new this call: only those are judged again

    # -- recording findings ------------------------------------------------------------------------------

    def violation(self, kind, message, key=None):
        """A broken promise. `key` makes it reported once over all calls (a lasting condition)."""
        if key is not None:
            if self.mem.db.execute("SELECT 1 FROM reported WHERE key=?", (key,)).fetchone():
                return
            self.mem.db.execute("INSERT INTO reported VALUES(?)", (key,))
        self.violations.append((kind, message))
        self.mem.db.execute("INSERT INTO violations(cut, kind, message) VALUES(?,?,?)", (self.cut, kind, message))

    def note(self, kind, message):
        self.notes.append((kind, message))
        self.mem.db.execute("INSERT INTO notes(cut, kind, message) VALUES(?,?,?)", (self.cut, kind, message))

    # -- observing events ---------------------------------------------------------------------------------

    def observe(self, e, source, acked_cut=None, acked_how=None, platform_ms=None, platform_pos=None):
        """Adds one observation of an event; checks id <-> seq <-> content stay one."""
        db = self.mem.db
        eid, seq = e.get("id"), e.get("seq")
        if not isinstance(eid, str) or not isinstance(seq, int):
            self.violation("malformed_event", "%s: an event without a string id and an integer seq: %s" % (source, canon(e)[:300]))
            return
        d = event_digest(e)
        row = db.execute("SELECT seq, digest, first_source, acked_cut, platform FROM events WHERE id=?", (eid,)).fetchone()
        if row is None:
            other = db.execute("SELECT id, first_source FROM events WHERE seq=? AND id<>?", (seq, eid)).fetchone()
            if other:
                self.violation("seq_reused", "seq %d belongs to two events: %s (first seen in %s) and %s (%s)"
                               % (seq, other[0], other[1], eid, source))
            cmd = e.get("data", {}).get("command_id") if isinstance(e.get("data"), dict) else None
            if cmd is not None:
                self.touched.add(cmd)
            db.execute("INSERT INTO events(id, seq, type, occurred_at, data, digest, command_id, first_source, acked_cut, acked_how,"
                       " platform, platform_ms, platform_pos) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (eid, seq, e.get("type"), e.get("occurred_at"), canon(e.get("data")), d, cmd, source,
                        acked_cut, acked_how, 1 if platform_pos is not None else 0, platform_ms, platform_pos))
            return
        oseq, odig, osrc, oack, oplat = row
        if oseq != seq:
            self.violation("seq_changed", "event %s has seq %d in %s but seq %d in %s" % (eid, oseq, osrc, seq, source))
        elif odig != d:
            self.violation("event_changed", "event %s (seq %d) differs between %s and %s" % (eid, seq, osrc, source))
        if acked_cut is not None and (oack is None or acked_cut < oack):
            db.execute("UPDATE events SET acked_cut=?, acked_how=? WHERE id=?", (acked_cut, acked_how, eid))
        if platform_pos is not None and not oplat:
            db.execute("UPDATE events SET platform=1, platform_ms=?, platform_pos=? WHERE id=?", (platform_ms, platform_pos, eid))

    def observe_result(self, command_id, body, source):
        b = {k: v for k, v in body.items() if k not in ("command_id", "received_count", "received_at", "last_received_at")}
        cur = self.mem.db.execute("INSERT OR IGNORE INTO result_bodies VALUES(?,?,?,?)", (command_id, digest(b), canon(b), source))
        if cur.rowcount:
            self.touched.add(command_id)

    # -- inputs -----------------------------------------------------------------------------------------

    def read_log(self):
        """Takes in the harness log from where the last call stopped."""
        path = self.args.log
        if not os.path.exists(path):
            raise CannotCheck("harness log %s does not exist" % path)
        offset = self.mem.meta("log_offset", 0)
        kills = self.mem.meta("kills_seen", 0)
        db = self.mem.db
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise CannotCheck("harness log %s: a line is not JSON (%s): %r" % (path, e, line[:200]))
            ev, t = rec.get("ev"), rec.get("t")
            if ev == "run_start":
                self.mem.set_meta("config", rec["config"])
                self.mem.set_meta("bridge", rec.get("bridge"))
                self.config = rec["config"]
            elif ev == "command_issued":
                c = rec["command"]
                db.execute("INSERT OR IGNORE INTO commands VALUES(?,?,?,?,?,?)",
                           (c["id"], c.get("type"), canon(c.get("params") or {}), t, kills, canon(c)))
                self.touched.add(c["id"])
            elif ev == "events_seen":
                for e in rec["events"]:
                    self.observe(e, "events seen by the harness before cut %d" % (kills + 1), acked_cut=kills, acked_how="seen")
            elif ev == "status_seen":
                db.execute("INSERT INTO statuses(t, run, cut, status) VALUES(?,?,?,?)", (t, rec.get("run"), kills, canon(rec["status"])))
            elif ev == "local_request":
                db.execute("INSERT INTO local_requests(sent, answered, type, params, result) VALUES(?,?,?,?,?)",
                           (rec.get("sent"), t, rec.get("type"), canon(rec.get("params")), canon(rec.get("result"))))
            elif ev == "kill":
                kills = rec["cut"]
                db.execute("INSERT OR REPLACE INTO kills VALUES(?,?,?,?)", (rec["cut"], t, rec.get("run"), canon(rec)))
            elif ev == "agent_start":
                db.execute("INSERT OR REPLACE INTO agent_starts VALUES(?,?)", (rec.get("run"), t))
            elif ev == "restart":
                db.execute("INSERT OR REPLACE INTO restarts VALUES(?,?,?)", (rec["cut"], t, rec.get("run")))
        self.mem.set_meta("log_offset", offset + end)
        self.mem.set_meta("kills_seen", kills)
        if self.config is None:
            raise CannotCheck("harness log %s has no run_start line with the site config" % path)
        for cut, t in db.execute("SELECT cut, t FROM kills"):
            self.kill_t[cut] = t

    def cut_of_time(self, ms):
        """How many cuts happened before `ms` (harness clock)."""
        return sum(1 for t in self.kill_t.values() if t <= ms)

    def read_platform(self):
        known = self.mem.meta("platform_known", 0)
        new, rep = self.platform.events_since(known)
        top = self.mem.meta("platform_top_seq", 0)
        gaps = self.mem.meta("platform_gaps", [])
        pos = known
        for e in new:
            pos += 1
            ms = rfc3339_ms(e.get("received_at"))
            ev = {k: v for k, v in e.items() if k != "received_at"}
            seq = ev.get("seq")
            if isinstance(seq, int):
                if seq <= top:
                    self.violation("platform_order", "the platform received seq %d (%s) after seq %d: events must arrive in seq order"
                                   % (seq, ev.get("id"), top))
                elif seq > top + 1:
                    gaps.append([top + 1, seq - 1])
                top = max(top, seq)
            self.observe(ev, "the platform's events", acked_cut=self.cut_of_time(ms) if ms else None, acked_how="platform",
                         platform_ms=ms, platform_pos=pos)
        self.mem.set_meta("platform_known", pos)
        self.mem.set_meta("platform_top_seq", top)
        self.mem.set_meta("platform_gaps", gaps)
        for v in rep.get("order_violations", []):
            if v.get("kind") == "backwards":
                self.violation("platform_order", "the platform reports seq %s (%s) received after seq %s"
                               % (v.get("seq"), v.get("event_id"), v.get("previous_seq")), key="pov:%s" % v.get("event_id"))
        # Two different events with one seq at the platform.
        for seq in {e.get("seq") for e in new if isinstance(e.get("seq"), int)}:
            ids = [r[0] for r in self.mem.db.execute("SELECT id FROM events WHERE platform=1 AND seq=?", (seq,))]
            if len(ids) > 1:
                self.violation("platform_seq_twice", "the platform received %d different events with seq %d: %s"
                               % (len(ids), seq, ", ".join(ids)), key="pst:%d" % seq)
        self.platform_results = self.platform.results()
        for cid, body in self.platform_results.items():
            self.observe_result(cid, body, "platform")
        cmds = self.platform.commands()
        self.platform_commands = {c["id"]: c for c in cmds.get("commands", [])}
        return len(new)

    def take_folder(self, folder, source, acked_cut=None, at_kill=False):
        """Observes everything in a state folder."""
        for p in folder.problems:
            self.violation("format", p, key="fmt:" + p)
        for n in folder.notes:
            self.note("damage", n)
        for e in folder.outbox.events:
            self.observe(e, source + " outbox.journal", acked_cut=acked_cut, acked_how="journal" if acked_cut is not None else None)
        for k, s in folder.outbox.floors:
            self.mem.db.execute("INSERT INTO floors VALUES(?,?,?)", (s, k, source))
        if at_kill and folder.outbox.torn:
            # A power cut can leave the journal's end torn (a write cut short, or zeros where the file had grown).
            # storage.md: the restart numbers new events above the last good seq (or floor, or mark) plus what the torn
            # bytes could hold (one per 128 bytes, rounded up), and writes an 'F' record saying so; but that record
            # can be compacted away at the same start (a journal over its bound) before anything observes it. The
            # copy the cut left says the same, so its floor is taken from there.
            n = folder.outbox.torn[1]
            floor = max(folder.outbox.last_seq, folder.outbox_mark or 0) + (n + 127) // 128
            self.mem.db.execute("INSERT INTO floors VALUES(?,?,?)", (floor, "T", source + " (torn tail of %d bytes)" % n))
        for e in folder.results.events:
            if e.get("type") != "command.result" or not isinstance(e.get("data"), dict) or "command_id" not in e["data"]:
                self.violation("format", "%s results.journal: a record that is no command result: %s" % (source, canon(e)[:200]))
                continue
            self.observe_result(e["data"]["command_id"], e["data"], source + " results.journal")
        for entry in folder.ledger:
            cid = entry.get("id")
            self.mem.db.execute("INSERT OR IGNORE INTO ledger_seen VALUES(?,?)", (cid, source))
            if entry.get("result") is not None:
                self.observe_result(cid, entry["result"], source + " commands.ledger")
        for x in folder.dead:
            ev = x.get("event")
            if isinstance(ev, dict):
                self.observe(ev, source + " dead-letter.log")
                self.mem.db.execute("UPDATE events SET dead=1 WHERE id=?", (ev.get("id"),))
                self.note("dead_letter", "event %s seq %s dead-lettered: %s %s" % (ev.get("id"), ev.get("seq"), x.get("code"), x.get("message")))
        if folder.outbox.dropped:
            prev = self.mem.meta("max_dropped", 0)
            if folder.outbox.dropped > prev:
                self.mem.set_meta("max_dropped", folder.outbox.dropped)
                self.note("compaction_drop", "%s: the journal header counts %d undelivered event(s) dropped by compaction (was %d)"
                          % (source, folder.outbox.dropped, prev))
            elif folder.outbox.dropped < prev:
                self.violation("dropped_count", "%s: the journal header counts %d dropped events, fewer than the %d seen before"
                               % (source, folder.outbox.dropped, prev), key="drop:%d:%d" % (prev, folder.outbox.dropped))

    # -- checks --------------------------------------------------------------------------------------------

    def missing_explained(self, rows, where):
        """Acknowledged events not found: those compaction may have dropped are counted against the journal's
        dropped count; the rest are lost."""
        lost = []
        droppable = []
        for eid, seq, typ in rows:
            (droppable if typ not in DROPPABLE_NEVER else lost).append((eid, seq, typ))
        used = self.mem.db.execute("SELECT COUNT(*) FROM events WHERE dropped=1").fetchone()[0]
        allowance = self.mem.meta("max_dropped", 0) - used
        if droppable:
            if len(droppable) <= allowance:
                for eid, seq, typ in droppable:
                    self.mem.db.execute("UPDATE events SET dropped=1 WHERE id=?", (eid,))
                    self.note("dropped", "%s: acknowledged event %s seq %d (%s) is gone: counted as dropped by compaction (the journal header's count)"
                              % (where, eid, seq, typ))
            else:
                lost += droppable
        for eid, seq, typ in lost:
            self.violation("lost", "%s: event %s seq %d (%s) was acknowledged but is neither at the platform nor in the journal"
                           % (where, eid, seq, typ), key="lost:" + eid)
        return len(lost)

    def check_lost_at_kill(self, atkill, kill_ms):
        """Everything acknowledged before the cut is at the platform (received before it) or in the journal the cut left."""
        ids = {e["id"] for e in atkill.outbox.events}
        # The platform's arrival time, not its answer, counts: compaction retires only events whose answer came back, so an
        # event the platform got after the cut was not retired before it and must be in the journal the cut left.
        rows = self.mem.db.execute(
            "SELECT id, seq, type FROM events WHERE acked_cut IS NOT NULL AND acked_cut < ? AND dead=0 AND dropped=0 AND "
            "NOT (platform=1 AND platform_ms IS NOT NULL AND platform_ms <= ?)", (self.cut, kill_ms)).fetchall()
        missing = [r for r in rows if r[0] not in ids]
        return self.missing_explained(missing, "at cut %d" % self.cut)

    def check_lost_now(self, live, where):
        ids = {e["id"] for e in live.outbox.events}
        rows = self.mem.db.execute("SELECT id, seq, type FROM events WHERE acked_cut IS NOT NULL AND platform=0 AND dead=0 "
                                   "AND dropped=0").fetchall()
        missing = [r for r in rows if r[0] not in ids]
        return self.missing_explained(missing, where)

    def check_recovery(self, atkill, live):
        """Events the cut left in the journal, not yet at the platform, are still in the journal after the restart."""
        live_ids = {e["id"] for e in live.outbox.events}
        gone = [e for e in atkill.outbox.events if e["id"] not in live_ids and
                not self.mem.db.execute("SELECT platform FROM events WHERE id=?", (e["id"],)).fetchone()[0]]
        for e in gone:
            row = self.mem.db.execute("SELECT acked_cut, dead FROM events WHERE id=?", (e["id"],)).fetchone()
            if row and row[1]:
                continue
            if row and row[0] is not None and row[0] < self.cut:
                continue  # acknowledged: judged by check_lost_now
            self.note("recovery", "event %s seq %d (%s), whole in the journal at the cut but never acknowledged, is gone after the restart"
                      % (e["id"], e["seq"], e["type"]))

    def check_marks(self, folder, source, before_ms=None):
        """A delivery mark covers only events the platform has (had before `before_ms`, for the folder a cut left: the
        mark is written after the platform's answer)."""
        if folder.outbox_mark is not None:
            m = folder.outbox_mark
            prev = self.mem.meta("max_outbox_mark", 0)
            if m < prev:
                self.violation("mark_backwards", "%s: outbox.delivered is %d, below %d seen earlier" % (source, m, prev))
            self.mem.set_meta("max_outbox_mark", max(prev, m))
            for e in folder.outbox.events:
                if e["seq"] > m:
                    break
                r = self.mem.db.execute("SELECT platform, dead, platform_ms FROM events WHERE id=?", (e["id"],)).fetchone()
                there = r and (r[1] or (r[0] and (before_ms is None or (r[2] is not None and r[2] <= before_ms))))
                if not there:
                    self.violation("mark_ahead", "%s: outbox.delivered says %d, but event %s seq %d %s"
                                   % (source, m, e["id"], e["seq"], "is not at the platform" if before_ms is None else
                                      "had not reached the platform by then"), key="ma:" + e["id"])
            if m > max(folder.outbox.last_seq, 0):
                self.violation("mark_ahead", "%s: outbox.delivered %d is above the journal's last seq %d" % (source, m, folder.outbox.last_seq))
        if folder.results_mark is not None:
            for e in folder.results.events:
                if e["seq"] > folder.results_mark:
                    break
                cid = e["data"].get("command_id")
                if cid not in self.platform_results:
                    self.violation("mark_ahead", "%s: results.delivered says %d, but the platform has no result for %s (results seq %d)"
                                   % (source, folder.results_mark, cid, e["seq"]), key="rma:%s" % cid)

    # -- commands ------------------------------------------------------------------------------------------

    def site(self):
        c = self.config
        zones = {z["id"]: z for z in c.get("zones", [])}
        parts = {p["id"]: p for p in c.get("partitions", [])}
        relays = {r["id"]: r for r in c.get("relays", [])}
        return zones, parts, relays

    def check_commands(self, final=False):
        """At most once: each command id has at most one set of effects; one result; results agree with effects."""
        zones, parts, relays = self.site()
        db = self.mem.db
        commands = {r[0]: (r[1], json.loads(r[2])) for r in db.execute("SELECT id, type, params FROM commands")}
        judged = set(commands) | self.touched if final else set(self.touched)
        effects = {}
        bodies = {}
        for cid in judged:
            for eid, seq, typ, data in db.execute("SELECT id, seq, type, data FROM events WHERE command_id=? ORDER BY seq", (cid,)):
                effects.setdefault(cid, []).append((seq, typ, json.loads(data), eid))
            for dg, body, src in db.execute("SELECT digest, body, first_source FROM result_bodies WHERE command_id=?", (cid,)):
                bodies.setdefault(cid, {})[dg] = (json.loads(body), [src])
        duplicated = 0
        for cid, evs in effects.items():
            if cid not in commands:
                self.violation("phantom", "events name command %s, which the harness never issued: %s"
                               % (cid, ", ".join("#%d %s" % (s, t) for s, t, _, _ in evs)), key="ph:" + cid)
        for cid, (ctype, params) in commands.items():
            if cid not in judged:
                continue
            evs = effects.get(cid, [])
            results = bodies.get(cid, {})
            if len(results) > 1:
                lines = "; ".join("%s from %s" % (canon(b)[:300], ", ".join(sorted(set(s))[:3])) for b, s in results.values())
                self.violation("two_results", "command %s (%s) has %d different results: %s" % (cid, ctype, len(results), lines),
                               key="tr:%s:%d" % (cid, len(results)))
            result = next(iter(results.values()))[0] if len(results) == 1 else None
            # Which effects a command of this type may have, by (event type, target).
            allowed = set()
            p = params.get("partition")
            if ctype == "relay.activate":
                allowed = {("relay.activated", params.get("relay")), ("relay.deactivated", params.get("relay"))}
            elif ctype == "relay.deactivate":
                allowed = {("relay.deactivated", params.get("relay"))}
            elif ctype == "partition.arm":
                allowed = {("partition.armed", p)} | {("zone.bypassed", z) for z, zc in zones.items() if zc.get("partition") == p}
            elif ctype == "partition.disarm":
                allowed = {("partition.disarmed", p)} | {("zone.unbypassed", z) for z, zc in zones.items() if zc.get("partition") == p}
                siren = (parts.get(p, {}).get("siren") or {}).get("relay")
                if siren:
                    allowed.add(("relay.deactivated", siren))
            elif ctype == "zone.bypass":
                allowed = {("zone.bypassed", params.get("zone"))}
            elif ctype == "zone.unbypass":
                allowed = {("zone.unbypassed", params.get("zone"))}
            counts = {}
            for seq, typ, data, eid in evs:
                target = data.get("relay") or data.get("zone") or data.get("partition")
                if typ.startswith("relay."):
                    target = data.get("relay")
                elif typ.startswith("zone."):
                    target = data.get("zone")
                elif typ.startswith("partition."):
                    target = data.get("partition")
                counts.setdefault((typ, target), []).append(seq)
                if (typ, target) not in allowed:
                    self.violation("wrong_effect", "command %s (%s %s) caused #%d %s %s, which it cannot cause"
                                   % (cid, ctype, canon(params), seq, typ, target), key="we:%s:%d" % (cid, seq))
            twice = {k: v for k, v in counts.items() if len(v) > 1}
            # relay.activate on a device that cannot switch on: activated then deactivated, once each (not here: simulated).
            if twice:
                duplicated += 1
                self.violation("executed_twice", "command %s (%s %s) took effect more than once: %s"
                               % (cid, ctype, canon(params), "; ".join("%s %s at seqs %s" % (k[0], k[1], v) for k, v in twice.items())),
                               key="x2:%s:%s" % (cid, canon(sorted(twice.items()))))
            if result is None:
                continue
            status, code = result.get("status"), result.get("code")
            interrupted = status == "failed" and code == "hardware_error" and "restarted" in (result.get("message") or "")
            if status != "succeeded" and not interrupted and evs:
                self.violation("effect_without_success", "command %s (%s) was answered %s/%s but caused %s"
                               % (cid, ctype, status, code, ", ".join("#%d %s" % (s, t) for s, t, _, _ in evs)), key="ews:" + cid)
            if status == "succeeded":
                st = result.get("state") or {}
                bad = None
                if ctype == "relay.activate":
                    if not any(t == "relay.activated" for _, t, _, _ in evs):
                        if self.mem.meta("max_dropped", 0) == 0:
                            bad = "no relay.activated with its command_id was recorded"
                    if st.get("on") is not True:
                        bad = "its state says on=%r" % st.get("on")
                elif ctype == "relay.deactivate" and st.get("on") is not False:
                    bad = "its state says on=%r" % st.get("on")
                elif ctype == "partition.arm" and st.get("state") not in ("armed_" + params.get("mode", "away"), "arming"):
                    bad = "its state says %r" % st.get("state")
                elif ctype == "partition.disarm" and st.get("state") != "disarmed":
                    bad = "its state says %r" % st.get("state")
                elif ctype == "zone.bypass" and st.get("bypassed") is not True:
                    bad = "its state says bypassed=%r" % st.get("bypassed")
                elif ctype == "zone.unbypass" and st.get("bypassed") is not False:
                    bad = "its state says bypassed=%r" % st.get("bypassed")
                if bad:
                    self.violation("result_inconsistent", "command %s (%s %s) succeeded but %s" % (cid, ctype, canon(params), bad),
                                   key="ri:" + cid)
                for seq, typ, data, _ in evs:
                    if typ == "partition.armed" and data.get("mode") != params.get("mode", "away"):
                        self.violation("result_inconsistent", "command %s armed %s but #%d says mode %s"
                                       % (cid, params.get("mode", "away"), seq, data.get("mode")), key="rim:" + cid)
        # Every result at the platform is in the ledger.
        seen_ledger = {r[0] for r in db.execute("SELECT command_id FROM ledger_seen")}
        for cid in self.platform_results:
            if cid not in seen_ledger and cid in commands:
                if final:
                    self.violation("not_in_ledger", "the platform has a result for %s but no ledger ever held it" % cid, key="nil:" + cid)
        if final:
            for cid, (ctype, params) in commands.items():
                if cid not in self.platform_results:
                    self.violation("no_result", "command %s (%s %s) was issued but the platform never got its result"
                                   % (cid, ctype, canon(params)), key="nr:" + cid)
        self.duplicated = duplicated
        return len(commands)

    # -- state across the cut ------------------------------------------------------------------------------

    def fold(self, upto):
        """The site's state as the recorded events say, through seq `upto`; (state, holes).

        Events at or below the platform's highest seq are final (delivered in seq order, or dropped for good), so the
        state there is cached in the memory and the next call goes on from it."""
        zones, parts, relays = self.site()
        cache = self.mem.meta("fold_cache")
        if cache and cache["seq"] <= upto:
            st = cache["state"]
            last, holes = cache["seq"], cache["holes"]
            pstate, plast, bypass, blast = st["partitions"], st["partition_last"], set(st["bypassed"]), st["bypass_last"]
            relay_on, relay_last, zone_faulted = st["relays"], st["relay_last"], st["zones"]
        else:
            pstate = {p: "disarmed" for p in parts}
            plast, bypass, blast = {}, set(), {}
            relay_on = {r: False for r in relays}
            relay_last = {}
            zone_faulted = {z: False for z in zones}
            last, holes = 0, 0
        final_upto = min(upto, self.mem.meta("platform_top_seq", 0))

        def state():
            return {"partitions": pstate, "bypassed": bypass, "relays": relay_on, "relay_last": relay_last,
                    "partition_last": plast, "bypass_last": blast, "zones": zone_faulted}

        def save(at):
            st = state()
            st = json.loads(canon(dict(st, bypassed=sorted(bypass))))
            self.mem.set_meta("fold_cache", {"seq": at, "holes": holes, "state": st})

        saved = cache["seq"] if cache else 0
        # Where a restart was found to diverge from the events, the state the agent came back with is taken from then on
        # (applied after the event at that seq, its bridge.started), so one divergence is not counted again and again.
        overrides = {}
        for oseq, kind, entity, value in self.mem.db.execute("SELECT seq, kind, entity, value FROM overrides WHERE seq>? AND seq<=?",
                                                              (last, upto)):
            overrides.setdefault(oseq, []).append((kind, entity, json.loads(value)))

        def override(at):
            for kind, entity, value in overrides.get(at, []):
                if kind == "partition":
                    pstate[entity] = value
                elif kind == "bypass":
                    (bypass.add if value else bypass.discard)(entity)
                elif kind == "relay":
                    relay_on[entity] = value

        for seq, typ, data in self.mem.db.execute(
                "SELECT seq, type, data FROM events WHERE seq>? AND seq<=? AND dead=0 ORDER BY seq", (last, upto)):
            if seq == last:
                continue
            if last < final_upto < seq and final_upto > saved:
                holes += final_upto - last
                last = final_upto
                save(final_upto)
                saved = final_upto
            holes += seq - last - 1
            last = seq
            if typ in ("partition.armed", "partition.disarmed", "alarm.created", "zone.bypassed", "zone.unbypassed",
                       "relay.activated", "relay.deactivated", "zone.faulted", "zone.restored"):
                d = json.loads(data)
                if typ == "partition.armed":
                    pstate[d["partition"]] = "armed_" + d.get("mode", "away")
                    plast[d["partition"]] = seq
                elif typ == "partition.disarmed":
                    pstate[d["partition"]] = "disarmed"
                    plast[d["partition"]] = seq
                elif typ == "alarm.created":
                    if pstate.get(d.get("partition"), "").startswith("armed_"):
                        pstate[d["partition"]] = "alarm"
                        plast[d["partition"]] = seq
                elif typ == "zone.bypassed":
                    bypass.add(d["zone"])
                    blast[d["zone"]] = seq
                elif typ == "zone.unbypassed":
                    bypass.discard(d["zone"])
                    blast[d["zone"]] = seq
                elif typ == "relay.activated":
                    relay_on[d["relay"]] = True
                    relay_last[d["relay"]] = seq
                elif typ == "relay.deactivated":
                    relay_on[d["relay"]] = False
                    relay_last[d["relay"]] = seq
                elif typ == "zone.faulted":
                    zone_faulted[d["zone"]] = True
                elif typ == "zone.restored":
                    zone_faulted[d["zone"]] = False
            override(seq)
            if seq == final_upto and final_upto > saved:
                save(final_upto)
                saved = final_upto
        if last < final_upto and final_upto > saved:
            holes += final_upto - last
            last = final_upto
            save(final_upto)
        holes += max(0, upto - last)
        return state(), holes

    def floor_values(self):
        return sorted({r[0] for r in self.mem.db.execute("SELECT seq FROM floors")})

    def unexplained(self, a, b, floors):
        """How many seqs of the hole a..b a floor record does not explain. A floor f (an 'F' record written where a
        damaged tail was cut, or a header's floor) numbers the events after it above f: seqs a..f are explained."""
        fs = [f for f in floors if a - 1 <= f <= b]
        covered = (max(fs) - (a - 1)) if fs else 0
        return (b - a + 1) - covered

    def explained_holes(self, upto):
        """(count, ranges) of seqs up to `upto` that no observation holds and no floor record explains."""
        seqs = [r[0] for r in self.mem.db.execute("SELECT DISTINCT seq FROM events WHERE seq<=? ORDER BY seq", (upto,))]
        floors = self.floor_values()
        total, out = 0, []
        last = 0
        for s in seqs + [upto + 1]:
            if s > last + 1:
                n = self.unexplained(last + 1, s - 1, floors)
                if n:
                    total += n
                    out.append((last + 1, s - 1))
            last = s
        return total, out

    def check_restart(self, atkill, live, kill_ms):
        zones, parts, relays = self.site()
        K = max(atkill.outbox.last_seq, atkill.outbox_mark or 0)
        before, holes = self.fold(K)
        if holes:
            un, ranges = self.explained_holes(K)
            if un > self.mem.meta("max_dropped", 0):
                self.note("fold", "cut %d: seqs %s up to %d were never observed; state checks may be unsound" % (self.cut, ranges[:5], K))
        # The restart's bridge.started: the first after K.
        row = self.mem.db.execute("SELECT seq, occurred_at, data FROM events WHERE type='bridge.started' AND seq>? ORDER BY seq LIMIT 1",
                                  (K,)).fetchone()
        if row is None:
            self.violation("no_start", "cut %d: no bridge.started after seq %d: the restart recorded nothing" % (self.cut, K))
            return
        start_seq, start_at, start_data = row[0], rfc3339_ms(row[1]), json.loads(row[2])
        restored = start_data.get("restored") or {}
        snap = (atkill.snapshot or {}).get("engine") or {}
        snap_parts = snap.get("partitions") or {}
        snap_relays = snap.get("relays") or {}
        snap_zones = snap.get("zones") or {}
        start_events = [(s, t, json.loads(d), rfc3339_ms(o)) for s, t, d, o in self.mem.db.execute(
            "SELECT seq, type, data, occurred_at FROM events WHERE seq>? AND seq<? + 50 ORDER BY seq", (K, start_seq))]
        start_events = [x for x in start_events if x[3] is not None and x[3] - start_at <= 1000 and "command_id" not in x[2]]
        self.restart_summary = []
        if restored.get("snapshot") is not True and atkill.snapshot is not None:
            self.violation("snapshot_ignored", "cut %d: a snapshot was there at the cut but bridge.started says restored=%s"
                           % (self.cut, canon(restored)))
        # Partitions: armed stays armed (behaviour.md, Persistence). A divergence between the events and the agent's
        # state lasts until an event changes the entity again: it is reported once, keyed by the entity's last event.
        rp = restored.get("partitions") or {}
        for p in parts:
            want = before["partitions"].get(p, "disarmed")
            got = rp.get(p, "disarmed")
            sp = (snap_parts.get(p) or {}).get("state", "disarmed")
            last = before["partition_last"].get(p, 0)
            if want != got:
                self.violation("partition_state", "cut %d: partition %s was %s by the recorded events (last #%d, through seq %d), came "
                               "back %s with no event saying so (the snapshot at the cut said %s)" % (self.cut, p, want, last, K, got, sp),
                               key="div:p:%s:%d" % (p, last))
                self.override(start_seq, "partition", p, got)
            self.restart_summary.append("%s=%s" % (p, got))
        # Bypasses kept.
        rb = set(restored.get("bypassed") or [])
        for z in sorted(rb ^ before["bypassed"]):
            last = before["bypass_last"].get(z, 0)
            sb = bool((snap_zones.get(z) or {}).get("bypassed"))
            self.violation("bypass_state", "cut %d: zone %s was %s by the recorded events (last #%d, through seq %d), came back %s with no "
                           "event saying so (the snapshot at the cut said %s)"
                           % (self.cut, z, "bypassed" if z in before["bypassed"] else "not bypassed", last, K,
                              "bypassed" if z in rb else "not bypassed", "bypassed" if sb else "not bypassed"),
                           key="div:z:%s:%d" % (z, last))
            self.override(start_seq, "bypass", z, z in rb)
        self.restart_summary.append("bypassed=%s" % ",".join(sorted(rb)))
        # Relays: latched ones kept (subject to power_on); a deadline that passed while down releases at once;
        # a deadline not passed is kept, never a fresh full period (behaviour.md, Relays).
        relays_on = set(restored.get("relays_on") or [])
        for r, rc in relays.items():
            was_on = before["relays"].get(r, False)
            sr = snap_relays.get(r)
            power_on = rc.get("power_on", "off")
            if not was_on:
                if r in relays_on:
                    last = before["relay_last"].get(r, 0)
                    self.violation("relay_state", "cut %d: relay %s was off by the recorded events (last #%d, through seq %d) but came back on"
                                   % (self.cut, r, last, K), key="div:r:%s:%d" % (r, last))
                    self.override(start_seq, "relay", r, True)
                continue
            if sr is None:
                released = [x for x in start_events if x[1] == "relay.deactivated" and x[2].get("relay") == r]
                if r in relays_on:
                    continue
                if not released:
                    last = before["relay_last"].get(r, 0)
                    self.violation("relay_state", "cut %d: relay %s was on by the recorded events (last #%d) but the snapshot at the cut "
                                   "did not have it on; it came back off and the restart recorded no relay.deactivated, so the journal's last "
                                   "word on it is still 'on'" % (self.cut, r, last), key="div:r:%s:%d" % (r, last))
                    self.override(start_seq, "relay", r, False)
                continue
            deadlines = [v for k, v in sr.items() if k in ("pulse_until", "max_on_until") and isinstance(v, int)]
            d = min(deadlines) if deadlines else None
            passed = d is not None and d <= start_at
            close = d is not None and abs(d - start_at) <= 50
            if passed:
                reason = "pulse_elapsed" if sr.get("pulse_until") is not None and sr.get("pulse_until") <= sr.get("max_on_until", 1 << 62) else "max_on"
            else:
                reason = "shutdown"
            expect_on = power_on in ("restore", "on") and not passed
            if power_on == "off" and not passed:
                # behaviour.md: a partition restored in alarm comes up with its siren on, whatever power_on.
                for p, pc in parts.items():
                    if (pc.get("siren") or {}).get("relay") == r and before["partitions"].get(p) == "alarm":
                        expect_on = True
            got_on = r in relays_on
            if close:
                continue
            if expect_on and not got_on:
                self.violation("relay_state", "cut %d: relay %s was on (power_on %s, deadline %s, start %s) but did not come back on"
                               % (self.cut, r, power_on, d, start_at))
                if not any(x[1] == "relay.deactivated" and x[2].get("relay") == r for x in start_events):
                    self.override(start_seq, "relay", r, False)
            elif not expect_on:
                if got_on:
                    self.violation("relay_state", "cut %d: relay %s should have come back off (power_on %s, deadline %s %s the start at %s) "
                                   "but came back on" % (self.cut, r, power_on, d, "before" if passed else "after", start_at))
                else:
                    rel = [x for x in start_events if x[1] == "relay.deactivated" and x[2].get("relay") == r]
                    if not rel:
                        self.violation("relay_release", "cut %d: relay %s came back off but the start recorded no relay.deactivated for it"
                                       % (self.cut, r))
                    elif rel[0][2].get("reason") != reason:
                        self.violation("relay_release", "cut %d: relay %s released at start with reason %s; its deadline %s %s the start "
                                       "(%s) so the reason should be %s" % (self.cut, r, rel[0][2].get("reason"), d,
                                                                           "passed before" if passed else "was after", start_at, reason))
            if got_on and d is not None:
                self.pending_deadlines.append((r, d, start_seq))
        # Zones: behaviour.md compares inputs with the saved snapshot at start. A zone faulted in the snapshot whose
        # input is inactive now (the simulated board starts with every input inactive) gives zone.restored.
        for z, zc in zones.items():
            if (snap_zones.get(z) or {}).get("faulted"):
                if not any(x[1] == "zone.restored" and x[2].get("zone") == z for x in start_events):
                    later = self.mem.db.execute("SELECT seq FROM events WHERE seq>? AND type='zone.restored' AND data LIKE ? ORDER BY seq LIMIT 1",
                                                (start_seq, '%"zone":"' + z + '"%')).fetchone()
                    if later is None:
                        self.violation("zone_start", "cut %d: zone %s was faulted in the snapshot and its input is inactive after the restart, "
                                       "but no zone.restored was recorded" % (self.cut, z))
            elif before["zones"].get(z):
                self.note("zone_stale", "cut %d: zone %s was faulted by the recorded events through seq %d but normal in the snapshot at "
                          "the cut; the restart compares with the snapshot (behaviour.md) and recorded nothing" % (self.cut, z, K))

    def override(self, seq, kind, entity, value):
        if not self.mem.db.execute("SELECT 1 FROM overrides WHERE seq=? AND kind=? AND entity=?", (seq, kind, entity)).fetchone():
            self.mem.db.execute("INSERT INTO overrides VALUES(?,?,?,?)", (seq, kind, entity, json.dumps(value)))

    def check_deadlines(self):
        """A relay restored on keeps its saved deadline: released at it, not a full period later."""
        for r, d, start_seq in self.pending_deadlines:
            row = self.mem.db.execute("SELECT seq, occurred_at, data FROM events WHERE seq>? AND type='relay.deactivated' "
                                      "AND data LIKE ? ORDER BY seq LIMIT 1", (start_seq, '%"relay":"' + r + '"%')).fetchone()
            if row is None:
                continue
            at = rfc3339_ms(row[1])
            data = json.loads(row[2])
            if data.get("reason") in ("max_on", "pulse_elapsed") and at is not None and at > d:
                # behaviour.md: released at the original deadline, never given a fresh full period. A release recorded a
                # few ms after it is a note (timer lateness); half a second or more is a period it was not owed.
                if at > d + 500:
                    self.violation("deadline_extended", "cut %d: relay %s restored with its deadline %d was released at %d (#%d, %s): "
                                   "%d ms after the saved deadline" % (self.cut, r, d, at, row[0], data.get("reason"), at - d))
                else:
                    self.note("deadline_late", "cut %d: relay %s restored with its deadline %d was released %d ms after it (#%d, %s)"
                              % (self.cut, r, d, at - d, row[0], data.get("reason")))

    def check_status(self):
        """The status the harness read after the restart agrees with the recorded events through its last_seq."""
        row = self.mem.db.execute("SELECT status, t FROM statuses WHERE cut=? ORDER BY n DESC LIMIT 1", (self.cut,)).fetchone()
        if row is None:
            self.note("status", "cut %d: the harness logged no status after the restart; the status check is skipped" % self.cut)
            return
        st = json.loads(row[0])
        lastseq = (st.get("outbox") or {}).get("last_seq")
        if not isinstance(lastseq, int):
            self.note("status", "cut %d: status without outbox.last_seq" % self.cut)
            return
        now, holes = self.fold(lastseq)
        if holes:
            un, ranges = self.explained_holes(lastseq)
            if un:
                self.note("fold", "cut %d: seqs %s were never observed; the status check may be unsound" % (self.cut, ranges[:5]))
        for p in st.get("partitions", []):
            want = now["partitions"].get(p["id"])
            if want is not None and p.get("state") != want:
                last = now["partition_last"].get(p["id"], 0)
                self.violation("status_vs_events", "cut %d: status says partition %s is %s; the events through seq %d say %s (last #%d)"
                               % (self.cut, p["id"], p.get("state"), lastseq, want, last), key="div:p:%s:%d" % (p["id"], last))
        sb = set()
        for z in st.get("zones", []):
            if z.get("bypassed"):
                sb.add(z["id"])
            if now["zones"].get(z["id"]) is not None and (z.get("state") == "faulted") != now["zones"][z["id"]]:
                self.note("zone_stale", "cut %d: status says zone %s is %s; the events through seq %d say %s"
                          % (self.cut, z["id"], z.get("state"), lastseq, "faulted" if now["zones"][z["id"]] else "normal"))
        for z in sorted(sb ^ now["bypassed"]):
            last = now["bypass_last"].get(z, 0)
            self.violation("status_vs_events", "cut %d: status says zone %s is %s; the events through seq %d say %s (last #%d)"
                           % (self.cut, z, "bypassed" if z in sb else "not bypassed", lastseq,
                              "bypassed" if z in now["bypassed"] else "not bypassed", last), key="div:z:%s:%d" % (z, last))
        for r in st.get("relays", []):
            want = now["relays"].get(r["id"])
            if want is not None and bool(r.get("on")) != want:
                last = now["relay_last"].get(r["id"], 0)
                self.violation("status_vs_events", "cut %d: status says relay %s is %s; the events through seq %d say %s (last #%d)"
                               % (self.cut, r["id"], "on" if r.get("on") else "off", lastseq, "on" if want else "off", last),
                               key="div:r:%s:%d" % (r["id"], last))

    def check_local_requests(self):
        """A local relay.activate answered succeeded has its relay.activated recorded (source technician) by then."""
        db = self.mem.db
        done = self.mem.meta("local_checked", 0)
        rows = db.execute("SELECT n, sent, answered, type, params, result FROM local_requests WHERE n>?", (done,)).fetchall()
        for n, sent, answered, typ, params, result in rows:
            res = json.loads(result) if result else {}
            prm = json.loads(params) if params else {}
            if typ in ("relay.activate", "relay.pulse") and res.get("status") == "succeeded":
                cands = db.execute("SELECT occurred_at, data FROM events WHERE type='relay.activated' AND data LIKE ? AND data LIKE ?",
                                   ('%"relay":"' + prm.get("relay", "") + '"%', '%"source":"technician"%')).fetchall()
                ok = any(sent - 1000 <= (rfc3339_ms(o) or 0) <= answered + 1000 for o, _ in cands)
                if not ok:
                    self.violation("lost", "local %s %s answered succeeded at %d, but no relay.activated (technician) of that time was ever "
                                   "observed" % (typ, canon(prm), answered), key="lr:%d" % n)
            self.mem.set_meta("local_checked", n)

    def platform_gaps_unexplained(self):
        """(count, ranges): seqs the platform's arrivals skipped that neither a floor record nor a dead letter explains.
        What is left can only be events compaction dropped before delivery (compared with the journal's count)."""
        floors = self.floor_values()
        total, out = 0, []
        for a, b in self.mem.meta("platform_gaps", []):
            n = self.unexplained(a, b, floors)
            n -= self.mem.db.execute("SELECT COUNT(*) FROM events WHERE seq BETWEEN ? AND ? AND dead=1", (a, b)).fetchone()[0]
            if n > 0:
                total += n
                out.append((a, b))
        return total, out

    # -- the run ------------------------------------------------------------------------------------------

    def phases(self, atkill):
        """What the cut interrupted, judged from what it left (temporary files, open ledger entries) and the harness's
        probe of the agent's threads just before the signal. Requests in flight are added by request_phases."""
        ph = set()
        for kind, _ in atkill.leftovers():
            ph.add(kind)
        answered = {}
        for entry in atkill.ledger:
            answered[entry.get("id")] = answered.get(entry.get("id"), False) or entry.get("result") is not None
        if any(not v for v in answered.values()):
            ph.add("command-execution")
        info = self.mem.db.execute("SELECT info FROM kills WHERE cut=?", (self.cut,)).fetchone()
        if info:
            probe = json.loads(info[0]).get("probe") or {}
            for th in probe.get("threads", []):
                name, call = th.get("name"), th.get("syscall")
                if name == "runtime" and call in ("fdatasync", "pwrite64", "fsync", "rename", "renameat", "renameat2"):
                    ph.add("event-append" if call in ("fdatasync", "pwrite64") else "snapshot")
                if name == "uplink-events" and call in ("poll", "ppoll", "epoll_wait", "epoll_pwait"):
                    ph.add("delivery")
                if name == "uplink-results" and call in ("poll", "ppoll", "epoll_wait", "epoll_pwait"):
                    ph.add("result-delivery")
        return ph

    def request_phases(self):
        """Adds to every cut the platform requests of the killed run that were in flight at the kill. The platform logs a
        request when it is answered, so one held by a delay fault shows up only later: every call looks again."""
        try:
            reqs = self.platform.requests()
        except CannotCheck:
            return
        if isinstance(reqs, dict):
            reqs = reqs.get("requests", [])
        starts = dict(self.mem.db.execute("SELECT run, t FROM agent_starts"))
        kills = self.mem.db.execute("SELECT cut, t, run FROM kills").fetchall()
        spans = []
        for r in reqs:
            at = rfc3339_ms(r.get("at"))
            if at is None or r.get("method") != "POST":
                continue
            path = r.get("path", "")
            kind = "delivery" if path.endswith("/events") else "result-delivery" if path.endswith("/result") else None
            if kind:
                spans.append((at, at + int(r.get("duration_ms") or 0) + 1, kind))
        if not spans:
            return
        oldest = min(x[0] for x in spans)
        for cut, t, run in kills:
            if t < oldest:
                continue
            start = starts.get(run, 0)
            found = {kind for a, b, kind in spans if start <= a <= t <= b}
            if not found:
                continue
            row = self.mem.db.execute("SELECT phases FROM cuts WHERE cut=?", (cut,)).fetchone()
            if row is None:
                continue
            ph = set(json.loads(row[0]))
            if not found <= ph:
                self.mem.db.execute("UPDATE cuts SET phases=? WHERE cut=?", (canon(sorted(ph | found)), cut))

    def run(self):
        t0 = time.time()
        db = self.mem.db
        self.read_log()
        self.pending_deadlines = []
        self.duplicated = 0
        lost = 0
        phases = []
        if self.args.at_kill:
            if self.cut is None:
                raise CannotCheck("--at-kill needs --cut")
            kill_ms = self.kill_t.get(self.cut)
            if kill_ms is None:
                raise CannotCheck("the harness log has no kill line for cut %d" % self.cut)
            atkill = StateFolder(self.args.at_kill, "cut %d at kill" % self.cut)
            self.take_folder(atkill, "cut %d at-kill copy" % self.cut, at_kill=True)
        live = StateFolder(self.args.state, "live" if self.cut is None else "after cut %d" % self.cut) if self.args.state else None
        if live:
            self.take_folder(live, "after restart %d" % (self.cut or 0))
        # The platform after the journals: an event the agent delivered and compacted away meanwhile is then at the platform.
        self.read_platform()
        if self.args.at_kill:
            lost += self.check_lost_at_kill(atkill, kill_ms)
            self.check_marks(atkill, "cut %d at kill" % self.cut, before_ms=kill_ms)
            phases = sorted(self.phases(atkill))
            if live:
                self.check_recovery(atkill, live)
                self.check_restart(atkill, live, kill_ms)
                self.check_deadlines()
        if live:
            lost += self.check_lost_now(live, "after restart %d" % (self.cut or 0) if not self.args.final else "at the end")
            self.check_marks(live, "live")
            if self.cut is not None and not self.args.final:
                self.check_status()
        self.read_log()
        self.check_local_requests()
        ncommands = self.check_commands(final=self.args.final)
        nevents = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        if self.args.final:
            pend = db.execute("SELECT id, seq, type FROM events WHERE platform=0 AND dead=0 AND dropped=0").fetchall()
            if live:
                live_pending = [e for e in live.outbox.events if not db.execute("SELECT platform FROM events WHERE id=?", (e["id"],)).fetchone()[0]]
                for e in live_pending[:20]:
                    self.violation("undelivered", "at the end, event %s seq %d (%s) is in the journal but the platform never got it"
                                   % (e["id"], e["seq"], e["type"]), key="ud:" + e["id"])
            top = db.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
            un, ranges = self.explained_holes(top)
            dropped = self.mem.meta("max_dropped", 0)
            if un > dropped:
                self.violation("seq_gap", "seqs %s (%d in all) were never seen anywhere, more than the %d the journal counts as dropped"
                               % (ranges[:10], un, dropped))
            n, ranges = self.platform_gaps_unexplained()
            if n > dropped:
                self.violation("seq_gap", "the platform's seqs skip %s (%d seqs), more than floor records and the %d events "
                               "compaction dropped explain" % (ranges[:10], n, dropped), key="pg:%d" % n)
            self.summary_pending = len(pend)
        elif self.cut is not None:
            # Gaps at the platform: only floors (damaged tails) and compaction drops may explain one.
            n, ranges = self.platform_gaps_unexplained()
            if n > self.mem.meta("max_dropped", 0):
                self.violation("seq_gap", "cut %d: the platform's seqs skip %s (%d seqs), more than floor records and the %d events "
                               "compaction dropped explain" % (self.cut, ranges[:10], n, self.mem.meta("max_dropped", 0)), key="pg:%d" % n)
        verdict = "VIOLATIONS" if self.violations else "OK"
        if self.cut is not None and not self.args.final:
            db.execute("INSERT OR REPLACE INTO cuts VALUES(?,?,?,?,?,?)",
                       (self.cut, canon(phases), verdict, len(self.violations), lost, self.duplicated))
        self.request_phases()
        if self.cut is not None and not self.args.final:
            phases = json.loads(db.execute("SELECT phases FROM cuts WHERE cut=?", (self.cut,)).fetchone()[0])
        db.commit()
        # Report
        if self.args.final:
            self.print_summary(nevents, ncommands, time.time() - t0)
        else:
            extra = ""
            if getattr(self, "restart_summary", None):
                extra = "; restored " + " ".join(self.restart_summary)
            print("cut %s [%s]: %s - %d events, %d commands known%s (%.1f s)"
                  % (self.cut, ",".join(phases) or "-", verdict, nevents, ncommands, extra, time.time() - t0))
        for kind, msg in self.violations:
            print("  VIOLATION %s: %s" % (kind, msg))
        if self.args.verbose:
            for kind, msg in self.notes:
                print("  note %s: %s" % (kind, msg))
        return 1 if self.violations else 0

    def print_summary(self, nevents, ncommands, secs):
        db = self.mem.db
        cuts = db.execute("SELECT cut, phases, verdict, lost, duplicated FROM cuts ORDER BY cut").fetchall()
        phase_count = {}
        for _, ph, _, _, _ in cuts:
            for p in json.loads(ph) or ["(none seen)"]:
                phase_count[p] = phase_count.get(p, 0) + 1
        vio = db.execute("SELECT kind, COUNT(*) FROM violations GROUP BY kind ORDER BY kind").fetchall()
        notes = db.execute("SELECT kind, COUNT(*) FROM notes GROUP BY kind ORDER BY kind").fetchall()
        lost = db.execute("SELECT COUNT(*) FROM violations WHERE kind='lost'").fetchone()[0]
        dup = db.execute("SELECT COUNT(*) FROM violations WHERE kind='executed_twice'").fetchone()[0]
        delivered = db.execute("SELECT COUNT(*) FROM events WHERE platform=1").fetchone()[0]
        acked = db.execute("SELECT COUNT(*) FROM events WHERE acked_cut IS NOT NULL").fetchone()[0]
        results = len(self.platform_results)
        resent = sum(1 for r in self.platform_results.values() if (r.get("received_count") or 0) > 1)
        bad_cuts = sum(1 for c in cuts if c[2] != "OK")
        print("summary: %d cuts (%d with violations); %d events checked (%d acknowledged, %d at the platform); %d commands checked "
              "(%d results at the platform, %d re-sent); lost %d; executed twice %d; dropped by compaction %d"
              % (len(cuts), bad_cuts, nevents, acked, delivered, ncommands, results, resent, lost, dup, self.mem.meta("max_dropped", 0)))
        print("phases hit: " + ", ".join("%s %d" % kv for kv in sorted(phase_count.items())))
        print("violations: " + (", ".join("%s %d" % kv for kv in vio) if vio else "none"))
        if notes:
            print("notes: " + ", ".join("%s %d" % kv for kv in notes))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", help="the agent's live state folder (after the restart)")
    ap.add_argument("--at-kill", help="a copy of the state folder taken right after the cut (agent dead)")
    ap.add_argument("--platform", required=True, help="the platform's base URL (admin API at /admin)")
    ap.add_argument("--bridge", required=True, help="the bridge id at the platform")
    ap.add_argument("--log", required=True, help="the harness's log (JSON lines)")
    ap.add_argument("--memory", required=True, help="the checker's own memory between calls (SQLite file)")
    ap.add_argument("--cut", type=int, help="the cut this call judges (its kill line in the log)")
    ap.add_argument("--final", action="store_true", help="the end: also every event delivered, every command answered, summary")
    ap.add_argument("--verbose", "-v", action="store_true", help="print notes too")
    args = ap.parse_args(argv)
    try:
        return Checker(args).run()
    except CannotCheck as e:
        print("checker: CANNOT CHECK: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
