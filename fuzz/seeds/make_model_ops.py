"""Writes the seed corpus of the model_ops fuzz target: python3 make_model_ops.py model_ops

Each seed is an op sequence encoded the way `arbitrary` 1.x decodes `Vec<Op>`: a 1 byte before each
element and a 0 byte at the end, a little-endian u32 choosing each enum variant (variant
`(u32 * count) >> 32`), then the fields in order. OPS, VIA and BOUND must list the variants in the
order fuzz/src/model_ops.rs declares them: rerun this after changing those enums.
"""
import os
import struct
import sys

OPS = ["Insert", "InsertOversizedKey", "Remove", "DeleteTable", "Get", "Range", "Summary",
       "ListTables", "TakeSnapshot", "Commit", "Abort", "Reopen", "Pop", "Retain", "DeleteRange",
       "Clear", "Lookup", "Copy", "Savepoint", "Restore"]
VIA = ["Writer", "Fresh", "Snapshot"]
BOUND = ["Unbounded", "Included", "Excluded"]

def variant(i, n):
    v = ((2 * i + 1) << 32) // (2 * n)
    assert (v * n) >> 32 == i
    return struct.pack("<I", v)

def key(k):  # (id, len_index)
    return bytes([k[0], k[1]])

def bound(b):
    if b is None:
        return variant(0, 3)
    kind, k = b
    return variant(BOUND.index(kind), 3) + key(k)

def op(name, **f):
    out = variant(OPS.index(name), len(OPS))
    if name == "Insert":
        out += bytes([f["table"]]) + key(f["key"]) + bytes([f["value"][0], f["value"][1]])
    elif name in ("InsertOversizedKey", "DeleteTable"):
        out += bytes([f["table"]])
    elif name == "Remove":
        out += bytes([f["table"]]) + key(f["key"])
    elif name == "Get":
        out += variant(VIA.index(f["via"]), 3) + bytes([f["table"]]) + key(f["key"])
    elif name == "Range":
        out += variant(VIA.index(f["via"]), 3) + bytes([f["table"]]) + bound(f.get("start")) \
            + bound(f.get("end")) + struct.pack("<H", f.get("ends", 0)) + bytes([f.get("limit", 0)])
    elif name == "Summary":
        out += variant(VIA.index(f["via"]), 3) + bytes([f["table"]])
    elif name == "ListTables":
        out += variant(VIA.index(f["via"]), 3)
    elif name == "Commit":
        out += bytes([f.get("sync", 1)])
    elif name == "Pop":
        out += bytes([f["table"], 1 if f.get("back") else 0])
    elif name == "Retain":
        out += bytes([f["table"], f["modulo"]])
    elif name == "DeleteRange":
        out += bytes([f["table"]]) + bound(f.get("start")) + bound(f.get("end"))
    elif name == "Clear":
        out += bytes([f["table"]])
    elif name == "Lookup":
        out += variant(VIA.index(f["via"]), 3) + bytes([f["table"]]) + key(f["key"]) \
            + bytes([f.get("prefix_len", 1)])
    elif name == "Copy":
        out += bytes([f["from"], f["to"]]) + bound(f.get("start")) + bound(f.get("end"))
    elif name == "Restore":
        out += bytes([f.get("index", 0)])
    return out

def seq(ops):
    return b"".join(b"\x01" + o for o in ops) + b"\x00"

seeds = {}

# Mixed sizes in three tables, read back before and after a reopen.
s = []
for i in range(12):
    s.append(op("Insert", table=i % 3, key=(i, i % 8), value=(i % 16, i)))
s += [op("Get", via="Writer", table=0, key=(3, 3)), op("Commit", sync=0)]
s += [op("Get", via="Fresh", table=i % 3, key=(i, i % 8)) for i in range(0, 12, 2)]
s += [op("Reopen"), op("Summary", via="Fresh", table=1), op("Range", via="Fresh", table=2),
      op("ListTables", via="Fresh")]
seeds["basic_reopen"] = seq(s)

# Values around the inline/overflow boundary and beyond a page, overwritten and removed.
s = []
for i, vlen in enumerate(range(4, 16)):
    s.append(op("Insert", table=0, key=(i, 4), value=(vlen, i)))
s += [op("Commit"), op("Summary", via="Fresh", table=0)]
for i in range(0, 12, 2):
    s.append(op("Insert", table=0, key=(i, 4), value=(1, 9)))
for i in range(1, 12, 4):
    s.append(op("Remove", table=0, key=(i, 4)))
s += [op("Range", via="Writer", table=0, ends=0b1010), op("Commit", sync=0), op("Reopen"),
      op("Range", via="Fresh", table=0, ends=0xFFFF), op("Summary", via="Fresh", table=0)]
seeds["overflow_values"] = seq(s)

# A held snapshot keeps its view while later commits and an abort happen.
s = [op("Insert", table=1, key=(i, 5), value=(3, i)) for i in range(8)]
s += [op("Commit"), op("TakeSnapshot")]
s += [op("Remove", table=1, key=(i, 5)) for i in range(0, 8, 2)]
s += [op("Insert", table=2, key=(9, 2), value=(2, 1)), op("Commit")]
s += [op("Insert", table=1, key=(40, 7), value=(12, 3)), op("Get", via="Snapshot", table=1, key=(2, 5)),
      op("Get", via="Fresh", table=1, key=(2, 5)), op("Get", via="Writer", table=1, key=(40, 7)),
      op("Range", via="Snapshot", table=1, start=("Included", (2, 5)), end=("Excluded", (6, 5)), ends=0b01),
      op("ListTables", via="Snapshot"), op("ListTables", via="Writer"), op("Abort"),
      op("Summary", via="Snapshot", table=1), op("Summary", via="Fresh", table=1),
      op("Get", via="Snapshot", table=2, key=(9, 2))]
seeds["snapshot_isolation"] = seq(s)

# Maximum-size keys: few per page, so the tree splits to several levels, then merges back.
s = [op("Insert", table=0, key=(i, 7 if i % 2 else 6), value=(3, i)) for i in range(48)]
s += [op("Commit"), op("Range", via="Fresh", table=0, start=("Excluded", (5, 6)), ends=0b0110, limit=20)]
s += [op("Remove", table=0, key=(i, 7 if i % 2 else 6)) for i in range(0, 48) if i % 5]
s += [op("Range", via="Writer", table=0, ends=0b10101), op("Commit"), op("Reopen"),
      op("Summary", via="Fresh", table=0), op("Range", via="Fresh", table=0, ends=0xAAAA)]
seeds["splits_and_merges"] = seq(s)

# Table lifecycle: delete, abort, delete again, empty commits, an oversized key.
s = [op("Insert", table=t, key=(t, 1), value=(2, t)) for t in range(3)]
s += [op("Commit"), op("DeleteTable", table=1), op("ListTables", via="Writer"), op("Abort"),
      op("ListTables", via="Fresh"), op("DeleteTable", table=1), op("DeleteTable", table=1),
      op("InsertOversizedKey", table=2), op("Commit"), op("Commit"), op("Get", via="Fresh", table=1, key=(1, 1)),
      op("Reopen"), op("ListTables", via="Fresh"), op("Insert", table=1, key=(0, 0), value=(0, 0)),
      op("Reopen"), op("Get", via="Fresh", table=1, key=(0, 0))]
seeds["tables_lifecycle"] = seq(s)

# Two tables open at once, the new table operations, savepoints restored in turn.
s = [op("Insert", table=t, key=(i, i % 8), value=(i % 10, i)) for t in range(2) for i in range(20)]
s += [op("Commit"), op("Savepoint"), op("Copy", **{"from": 0, "to": 2}), op("Pop", table=0),
      op("Pop", table=1, back=True), op("Savepoint"), op("Retain", table=0, modulo=3),
      op("DeleteRange", table=1, start=("Included", (4, 0)), end=("Excluded", (12, 0))),
      op("Lookup", via="Writer", table=2, key=(5, 5), prefix_len=1), op("Restore", index=1),
      op("Lookup", via="Writer", table=0, key=(0, 0), prefix_len=2), op("Clear", table=2),
      op("Restore", index=0), op("Summary", via="Writer", table=2), op("Commit"), op("Reopen"),
      op("Lookup", via="Fresh", table=1, key=(3, 3), prefix_len=1), op("Summary", via="Fresh", table=0)]
seeds["tables_and_savepoints"] = seq(s)

# Many inserts at scattered keys under the three-page budget (an even-length input), so
# the write transaction spills, reads pages back and starts holding its writes.
s = []
x = 7
for i in range(600):
    x = (x * 1103515245 + 12345) % (1 << 31)
    s.append(op("Insert", table=0, key=(x % 64, (x >> 8) % 8), value=(3 + (x >> 12) % 6, i % 251)))
s += [op("Summary", via="Writer", table=0), op("Range", via="Writer", table=0, ends=0x5555),
      op("Commit"), op("Summary", via="Fresh", table=0)]
data = seq(s)
if len(data) % 2:
    data = seq(s + [op("Abort")])
assert len(data) % 2 == 0
seeds["scattered_inserts"] = data

out = sys.argv[1]
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    print(name, len(data))
