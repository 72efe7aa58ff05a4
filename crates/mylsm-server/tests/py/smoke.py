"""redis-py against `mylsm serve`, in RESP3 (its default) and RESP2: run by tests/redis_py.rs."""
import sys

import redis

for proto in (3, 2):
    r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=proto, socket_timeout=5)
    assert r.ping()
    r.flushall()
    assert r.get("missing") is None
    r.set("k", "v", ex=100)
    assert r.get("k") == b"v"
    assert r.ttl("k") == 100
    assert r.incr("n") == 1
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}, r.hgetall("h")
    r.zadd("z", {"x": 1.5, "y": 2})
    assert [tuple(x) for x in r.zrange("z", 0, -1, withscores=True)] == [(b"x", 1.5), (b"y", 2.0)]
    assert r.zscore("z", "x") == 1.5
    assert r.zscore("z", "nope") is None
    r.sadd("s", "a", "b")
    assert r.smembers("s") == {b"a", b"b"}
    assert r.lpop("nolist") is None
    with r.pipeline(transaction=True) as p:
        p.set("t", 1).incr("t")
        assert p.execute() == [True, 2]
    keys = set(r.scan_iter(match="*"))
    assert b"k" in keys and b"h" in keys, keys
    info = r.info()
    assert "redis_version" in info
    print("redis-py protocol", proto, "ok", r.connection_pool.connection_kwargs.get("protocol"))
