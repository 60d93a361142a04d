import base64, calendar, hashlib, json, sys, time
H = lambda b: hashlib.sha256(b).digest()
def push(stack, node):                 # node = (level, index, hash); merge siblings
    stack.append(node)
    while len(stack) > 1:
        (la, ia, a), (lb, ib, b) = stack[-2], stack[-1]
        if la != lb or ia % 2 or ib != ia + 1: break
        stack[-2:] = [(la + 1, ia // 2, H(b"\x01" + a + b))]
def root(stack):
    h = stack[-1][2]
    for _, _, l in reversed(stack[:-1]): h = H(b"\x01" + l + h)
    return h
export, checkpoint = sys.argv[1], sys.argv[2]
lines = open(export, "rb").read().split(b"\n")[:-1]
trailer = json.loads(lines[-1]); stack = []; prev = None
n, start = trailer["from"] - 1, 0      # prefix: one subtree per set bit of n, largest first
for k, h in zip([k for k in range(63, -1, -1) if n >> k & 1], trailer["prefix"]):
    push(stack, (k, start >> k, bytes.fromhex(h))); start += 1 << k
for i, raw in enumerate(lines[:-1]):
    head, event = raw.split(b',"event":', 1); event = event[:-1]   # bytes verbatim
    e = json.loads(head + b"}"); t = e["time"]
    assert e["seq"] == trailer["from"] + i, f"seq {trailer['from'] + i}: entry missing"
    ns = calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(t[20:29])
    p = bytes.fromhex(e["prev"])
    h = H(b"botwarden-ledger-v1\x00" + e["seq"].to_bytes(8, "big")
          + ns.to_bytes(8, "big", signed=True) + p + event)
    assert h.hex() == e["hash"], f"seq {e['seq']}: hash mismatch"
    assert p == (prev or (bytes(32) if e["seq"] == 1 else p)), f"seq {e['seq']}: bad prev link"
    prev = h; push(stack, (0, e["seq"] - 1, H(b"\x00" + h)))
body = open(checkpoint).read().split("\n")
assert int(body[1]) == trailer["to"] == e["seq"], "checkpoint size"
assert base64.b64decode(body[2]) == root(stack), "Merkle root mismatch"
print("ok", trailer["from"], trailer["to"])
