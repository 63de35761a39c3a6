"""The per-TU fact cache: validity, stat-then-hash, corruption, concurrency."""
import glob
import json
import multiprocessing as mp
import os
import subprocess
import sys

import pytest

from harness import write_databases
from threadlint import cache as cache_mod
from threadlint.cache import FactCache
from threadlint.cli import main

OLD = 10 ** 9 * 1000            # an mtime (ns) far before any run


def make_cache(d, version="1.0", clang="22"):
    return FactCache(str(d), clang, version)


def src_file(tmp_path, name, text, mtime_ns=OLD):
    p = tmp_path / name
    p.write_text(text)
    os.utime(p, ns=(mtime_ns, mtime_ns))
    return str(p)


def result_for(*includes, tag="facts"):
    return {"facts": {"tag": tag}, "diagnostics": [], "includes": list(includes), "dropped_args": []}


def entries(cache_dir):
    """Per-TU fact entries (in two-hex-digit directories; not the run and
    database memos under runs/ and compdb/)."""
    return sorted(os.path.join(dp, f) for dp, _, fs in os.walk(cache_dir) for f in fs
                  if f.endswith(".json") and len(os.path.basename(dp)) == 2)


# -- validity -------------------------------------------------------------------------------

def test_roundtrip_and_keys(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n")
    h = src_file(tmp_path, "a.h", "int h;\n")
    fc = make_cache(tmp_path / "cache")
    assert fc.get(c, ("-DX",)) is None
    fc.put(c, ("-DX",), result_for(h))
    again = make_cache(tmp_path / "cache")
    assert again.get(c, ("-DX",)) == result_for(h)
    assert (again.hits, again.misses) == (1, 0)
    assert again.get(c, ("-DY",)) is None                               # other arguments
    assert make_cache(tmp_path / "cache", clang="23").get(c, ("-DX",)) is None
    assert make_cache(tmp_path / "cache", version="2.0").get(c, ("-DX",)) is None


def test_cache_dir_is_ignored_by_git_and_tagged(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n")
    make_cache(tmp_path / "cache").put(c, (), result_for())
    assert (tmp_path / "cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (tmp_path / "cache" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_content_change_of_main_file_or_header_invalidates(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n")
    h = src_file(tmp_path, "a.h", "int h;\n")
    make_cache(tmp_path / "cache").put(c, (), result_for(h))
    src_file(tmp_path, "a.h", "int H;\n", OLD + 1)                      # same size, new content
    assert make_cache(tmp_path / "cache").get(c, ()) is None
    make_cache(tmp_path / "cache").put(c, (), result_for(h))
    src_file(tmp_path, "a.c", "int b;\n", OLD + 2)
    fc = make_cache(tmp_path / "cache")
    assert fc.get(c, ()) is None and fc.missed == [c]
    os.unlink(h)
    make_cache(tmp_path / "cache").put(c, (), result_for(h))            # vanished dep: not cached
    assert make_cache(tmp_path / "cache").get(c, ()) is None


def test_stat_first_hash_only_when_stat_changed(tmp_path, monkeypatch):
    c = src_file(tmp_path, "a.c", "int a;\n")
    h = src_file(tmp_path, "a.h", "int h;\n")
    make_cache(tmp_path / "cache").put(c, (), result_for(h))
    hashed = []
    real = FactCache._content_hash
    monkeypatch.setattr(FactCache, "_content_hash", lambda self, p: hashed.append(p) or real(self, p))
    assert make_cache(tmp_path / "cache").get(c, ()) is not None and hashed == []
    os.utime(h, ns=(OLD + 5, OLD + 5))                                  # touched, same content
    assert make_cache(tmp_path / "cache").get(c, ()) is not None and hashed == [h]
    # the hit refreshed the entry's stat: the next run is stat-only again
    hashed.clear()
    assert make_cache(tmp_path / "cache").get(c, ()) is not None and hashed == []


def test_racy_and_mid_run_modifications(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n")
    fc = make_cache(tmp_path / "cache")
    # modified just before the run started: cached, but the stat is not trusted
    src_file(tmp_path, "a.c", "int a;\n", fc.started_ns - 10 ** 8)
    fc.put(c, (), result_for())
    (entry,) = entries(tmp_path / "cache")
    deps = cache_mod._decode(open(entry, "rb").read())["deps"]
    assert deps[c][0] == cache_mod.UNTRUSTED_MTIME
    # modified after the run started: what was parsed is unknown, nothing is written
    os.unlink(entry)
    fc2 = make_cache(tmp_path / "cache")
    src_file(tmp_path, "a.c", "int b;\n", fc2.started_ns + 10 ** 6)
    fc2.put(c, (), result_for())
    assert entries(tmp_path / "cache") == []
    # changed between the first stat of this run and the write: not cached either
    fc3 = make_cache(tmp_path / "cache")
    src_file(tmp_path, "a.c", "int c;\n")
    fc3._stat(c)                                    # as when another TU's entry was checked
    src_file(tmp_path, "a.c", "int cc;\n", OLD + 7)
    fc3.put(c, (), result_for())
    assert entries(tmp_path / "cache") == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "bad-structure", "flip-byte"])
def test_corrupt_entry_is_detected_and_rebuilt(tmp_path, damage):
    c = src_file(tmp_path, "a.c", "int a;\n")
    make_cache(tmp_path / "cache").put(c, (), result_for())
    (entry,) = entries(tmp_path / "cache")
    raw = open(entry, "rb").read()
    if damage == "truncate":
        data = raw[:len(raw) // 2]
    elif damage == "garbage":
        data = os.urandom(200)
    elif damage == "empty":
        data = b""
    elif damage == "flip-byte":
        data = raw[:-5] + bytes([raw[-5] ^ 1]) + raw[-4:]
    else:                       # a valid checksum over a document of the wrong shape
        body = json.dumps({"deps": {c: "x"}, "result": {}}).encode()
        data = cache_mod.checksum(body) + b"\n" + body
    open(entry, "wb").write(data)
    fc = make_cache(tmp_path / "cache")
    assert fc.get(c, ()) is None and fc.corrupt == 1
    fc.put(c, (), result_for(tag="rebuilt"))
    assert make_cache(tmp_path / "cache").get(c, ())["facts"] == {"tag": "rebuilt"}


def test_unwritable_cache_does_not_fail(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    fc = make_cache(blocker / "cache")
    fc.put(c, (), result_for())                     # OSError swallowed
    assert fc.get(c, ()) is None


def _writer(cache_dir, path, tag, n, barrier):
    barrier.wait()
    for i in range(n):
        FactCache(cache_dir, "22", "1.0").put(path, (), result_for(tag=f"{tag}{i}"))


def _reader(cache_dir, path, n, barrier, out):
    barrier.wait()
    seen = bad = 0
    for _ in range(n):
        fc = FactCache(cache_dir, "22", "1.0")
        r = fc.get(path, ())
        bad += fc.corrupt
        seen += r is not None and r["facts"]["tag"][:1] in "ab"
    out.put((seen, bad))


def test_concurrent_writers_never_expose_a_partial_entry(tmp_path):
    c = src_file(tmp_path, "a.c", "int a;\n" * 2000)
    cache_dir = str(tmp_path / "cache")
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(cache_dir, c, "a", 300, barrier)),
             ctx.Process(target=_writer, args=(cache_dir, c, "b", 300, barrier)),
             ctx.Process(target=_reader, args=(cache_dir, c, 600, barrier, out))]
    for p in procs:
        p.start()
    seen, bad = out.get(timeout=120)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert bad == 0 and seen > 0
    assert [f for f in os.listdir(os.path.dirname(entries(cache_dir)[0])) if f.endswith(".tmp")] == []


# -- through the CLI ------------------------------------------------------------------------

TREE = {
    "ok.c": "#include \"common.h\"\nint ok(void) { return COMMON; }\n",
    "broken.c": "#include \"common.h\"\nint broken(void) { return undeclared_b + COMMON; }\n",
    "other.c": "int other(void) { return undeclared_o; }\n",
    "common.h": "#define COMMON 1\n",
}


def tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in TREE.items():
        (src / name).write_text(text)
    specs = write_databases(str(src), str(tmp_path / "builds"))
    return src, ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
                 "-j", "1", "--format", "json", "--cache-dir", str(tmp_path / "cache")]


def findings_of(capsys):
    return json.loads(capsys.readouterr().out)["findings"]


def test_corrupted_cache_is_rebuilt_with_the_same_findings(tmp_path, capsys):
    src, argv = tree(tmp_path)
    assert main(argv) == 1
    cold = findings_of(capsys)
    assert {f["location"]["path"] for f in cold} >= {"broken.c", "other.c"}
    files = entries(tmp_path / "cache")
    assert len(files) == 3
    for i, path in enumerate(files):                # truncate one, garble one, empty one
        raw = open(path, "rb").read()
        open(path, "wb").write([raw[:len(raw) // 3], b"\x00garbage\xff" * 50, b""][i])
    assert main(argv) == 1
    assert findings_of(capsys) == cold
    for path in entries(tmp_path / "cache"):        # rewritten, valid again
        assert cache_mod._decode(open(path, "rb").read()) is not None
    assert main(argv + ["--no-cache"]) == 1
    assert findings_of(capsys) == cold


def test_header_change_reparses_its_includers_only(tmp_path, capsys, monkeypatch):
    src, argv = tree(tmp_path)
    made = []

    class Recording(FactCache):
        def __init__(self, *a):
            super().__init__(*a)
            made.append(self)

    monkeypatch.setattr(cache_mod, "FactCache", Recording)
    assert main(argv) == 1
    assert made[-1].misses == 3
    assert main(argv) == 1 and (made[-1].hits, made[-1].misses) == (3, 0)
    with open(src / "common.h", "a") as fh:
        fh.write("/* changed */\n")
    assert main(argv) == 1
    assert sorted(os.path.basename(p) for p in made[-1].missed) == ["broken.c", "ok.c"]
    capsys.readouterr()


def test_cache_dir_from_environment_and_no_cache(tmp_path, capsys, monkeypatch):
    src, argv = tree(tmp_path)
    argv = argv[:-2]                                # drop --cache-dir
    monkeypatch.setenv("THREADLINT_CACHE_DIR", str(tmp_path / "envcache"))
    assert main(argv + ["--no-cache"]) == 1
    assert not (tmp_path / "envcache").exists() and not (src / ".threadlint_cache").exists()
    assert main(argv) == 1
    assert len(entries(tmp_path / "envcache")) == 3
    monkeypatch.delenv("THREADLINT_CACHE_DIR")
    assert main(argv) == 1
    assert len(entries(src / ".threadlint_cache")) == 3
    capsys.readouterr()


def test_two_concurrent_cli_runs_share_a_cache(tmp_path):
    src, argv = tree(tmp_path)
    for i in range(6):                              # enough TUs for the runs to overlap
        (src / f"extra{i}.c").write_text("#include \"common.h\"\n" + "int v%d;\n" % i * 200)
    specs = write_databases(str(src), str(tmp_path / "builds"))
    argv = ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
            "-j", "1", "--format", "json", "--cache-dir", str(tmp_path / "cache")]
    cmd = [sys.executable, "-m", "threadlint", *argv]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [1, 1], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]
    for path in entries(tmp_path / "cache"):
        assert cache_mod._decode(open(path, "rb").read()) is not None
    third = subprocess.run(cmd, capture_output=True, timeout=300)
    assert third.stdout == outs[0][0]


def test_json_pipeline_round_trips_text_orjson_refuses():
    """A lone surrogate (an undecodable path, surrogate-escaped) is not UTF-8:
    the encoder falls back to escaped JSON and the decoder reads it back."""
    from threadlint import jsonio
    doc = {"includes": ["/inc/caf\udce9.h"], "n": [1, 2**63, -1], "t": "ok é"}
    assert jsonio.loads(jsonio.dumps(doc)) == doc
    assert jsonio.loads(b'{"a":[1,"x"]}') == {"a": [1, "x"]}
    with pytest.raises(jsonio.DecodeError):
        jsonio.loads(b'{"a":')


def test_entry_with_a_valid_checksum_but_undecodable_result_is_reparsed(tmp_path, capsys):
    src, argv = tree(tmp_path)
    assert main(argv) == 1
    cold = findings_of(capsys)
    path = entries(tmp_path / "cache")[0]
    deps_line = open(path, "rb").read().split(b"\n")[1]
    body = deps_line + b"\n" + b'{"facts": [unterminated'
    open(path, "wb").write(cache_mod.checksum(body) + b"\n" + body)
    assert main(argv + ["--select", "TL002"]) == 1     # another key: the run memo misses
    assert findings_of(capsys) == [f for f in cold if f["rule"] == "TL002"]
    assert cache_mod._decode(open(path, "rb").read()) is not None   # rewritten


def test_stored_values_round_trip_and_follow_the_salt(tmp_path):
    fc = make_cache(tmp_path / "cache")
    assert fc.get_value("predefines", ["-DX"]) is None
    fc.put_value("predefines", ["-DX"], {"X": "1"})
    assert fc.get_value("predefines", ["-DX"]) == {"X": "1"}
    assert fc.get_value("predefines", ["-DY"]) is None
    assert make_cache(tmp_path / "cache", clang="23").get_value("predefines", ["-DX"]) is None
    (path,) = glob.glob(str(tmp_path / "cache" / "values" / "*.json"))
    open(path, "ab").write(b"x")                       # damaged: a miss
    assert fc.get_value("predefines", ["-DX"]) is None


@pytest.mark.parametrize("few", [True, False])
def test_hits_are_decoded_before_a_few_parses_and_beside_many(tmp_path, capsys, monkeypatch, few):
    # While a forked worker lives, every page the engine writes is copied:
    # decoding the hits beside it costs more than the few parses overlap.
    from threadlint import engine, parallel
    src, argv = tree(tmp_path)
    assert main(argv) == 1
    cold = findings_of(capsys)
    (src / "other.c").write_text(TREE["other.c"] + "/* edited */\n")
    events = []
    real_run, real_load = parallel.run, cache_mod.Entry.load

    def run(specs, *a, **k):
        events.append(("run", len(specs)))
        return real_run(specs, *a, **k)

    def load(self):
        events.append(("load", 1))
        return real_load(self)

    monkeypatch.setattr(parallel, "run", run)
    monkeypatch.setattr(cache_mod.Entry, "load", load)
    monkeypatch.setattr(engine, "FEW_MISSES", 4 if few else 0)
    assert main(argv) == 1
    assert findings_of(capsys) == cold
    assert ("run", 1) in events and events.count(("load", 1)) == 2       # one miss, two hits
    before_run = events[:events.index(("run", 1))]
    assert before_run.count(("load", 1)) == (2 if few else 0)
