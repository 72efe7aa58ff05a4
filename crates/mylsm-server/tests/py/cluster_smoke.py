"""redis-py against `mylsm serve` in cluster mode (a 1-node Raft cluster), in RESP3 and
RESP2: run by tests/redis_py.rs. Initializes the cluster itself."""
import sys
import time

import redis

port = int(sys.argv[1])
admin = redis.Redis(host="127.0.0.1", port=port, protocol=2, socket_timeout=10)
assert admin.execute_command("RAFT.INIT") in (True, b"OK")
deadline = time.time() + 20
while b"state:leader" not in admin.execute_command("RAFT.METRICS"):
    assert time.time() < deadline, "no leader"
    time.sleep(0.05)

for proto in (3, 2):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=proto, socket_timeout=10)
    assert r.ping()
    assert r.get("missing") is None
    assert r.set("k", "v")
    assert r.get("k") == b"v"
    assert r.mset({"a": "1", "b": "2"})
    assert r.mget("a", "b", "missing") == [b"1", b"2", None]
    assert r.incr("n") == (1 if proto == 3 else 2)
    assert r.exists("a", "missing") == 1
    assert r.delete("a", "missing") == 1
    # Its default pipeline is MULTI/EXEC: writes only, one Raft entry.
    with r.pipeline() as p:
        p.set("t", 1).incr("t")
        assert p.execute() == [True, 2]
    with r.pipeline(transaction=False) as p:
        for i in range(100):
            p.set("p%d" % i, i)
        p.get("p99")
        assert p.execute()[-1] == b"99"
    try:
        r.lpush("l", "x")
        raise AssertionError("LPUSH served in cluster mode")
    except redis.ResponseError as e:
        assert "cluster mode" in str(e), e
    info = r.info()
    assert "redis_version" in info and info["state"] == "leader", info
    print("redis-py cluster protocol %d ok" % proto)
