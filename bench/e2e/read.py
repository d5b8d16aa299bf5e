"""Readers of scripts/bench-e2e, each a read_committed consumer of a contender's decisions topic.

  read.py wait BOOTSTRAP TOPIC COUNT [STALL_S]
      Reads until COUNT decisions arrived; prints "first LAST_WALL last LAST_WALL count N" (epoch
      seconds of the first and the COUNT-th record read). Exits 1 when nothing new came for STALL_S
      (default 300) seconds.
  read.py latency BOOTSTRAP TOPIC TX_TOPIC COUNT WARMUP_FRACTION
      Notes when each decision became readable, until COUNT arrived; then reads the input topic's
      record timestamps (the paced producer's wall clock) and prints the event → decision latency
      p50/p99/p99.9/max in ms over the transactions after the first WARMUP_FRACTION. With
      BENCH_LATENCY_DUMP=FILE, also writes one line a transaction: id, produced, readable (epoch ms).
  read.py verify BOOTSTRAP COUNT NAME=TOPIC...
      Reads each topic to its end: every contender must hold exactly one decision for each of the
      transactions 0..COUNT-1; scores and features are compared with the first topic's.
"""

import json
import os
import re
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

FEATURES = ["TX_AMOUNT", "TX_DURING_WEEKEND", "TX_DURING_NIGHT",
            "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
            "CUSTOMER_ID_NB_TX_7DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
            "CUSTOMER_ID_NB_TX_30DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
            "TERMINAL_ID_NB_TX_1DAY_WINDOW", "TERMINAL_ID_RISK_1DAY_WINDOW",
            "TERMINAL_ID_NB_TX_7DAY_WINDOW", "TERMINAL_ID_RISK_7DAY_WINDOW",
            "TERMINAL_ID_NB_TX_30DAY_WINDOW", "TERMINAL_ID_RISK_30DAY_WINDOW"]
# read_uncommitted for at-least-once runs (scripts/bench-e2e --guarantee at_least_once).
ISOLATION = os.environ.get("BENCH_ISOLATION", "read_committed")
ID = re.compile(rb'"TRANSACTION_ID": *(\d+)')


def take(c):
    """The records already fetched, at once; with none, waits up to 10 ms for the first one (a
    batched consume would wait until its count or its timeout, and stamp records late)."""
    m = c.poll(0.01)
    if m is None:
        return []
    return [m] + c.consume(10000, 0)


def consumer(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-read-" + uuid.uuid4().hex,
                  "isolation.level": ISOLATION, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": False})
    c.subscribe([topic])
    return c


def read_all(bootstrap, topic):
    """Every record of the topic up to the end offsets it had when called."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-read-" + uuid.uuid4().hex,
                  "isolation.level": ISOLATION, "enable.auto.commit": False})
    meta = c.list_topics(topic, timeout=30).topics[topic]
    tps = [TopicPartition(topic, p, 0) for p in meta.partitions]
    ends = {tp.partition: c.get_watermark_offsets(tp, timeout=30)[1] for tp in tps}
    c.assign(tps)
    idle = 0
    while True:
        msgs = c.consume(10000, 1.0)
        for m in msgs:
            if not m.error():
                yield m
        if all(p.offset >= ends[p.partition] for p in c.position(tps) if ends[p.partition] > 0):
            break
        # The last offset of a transactional partition is a commit marker, never delivered.
        idle = 0 if msgs else idle + 1
        if idle >= 5:
            break
    c.close()


def wait(bootstrap, topic, count, stall=300.0):
    c = consumer(bootstrap, topic)
    n, first, last, progress = 0, None, None, time.time()
    while n < count:
        msgs = take(c)
        now = time.time()
        for m in msgs:
            if m.error():
                continue
            n += 1
            first = first or now
            last = now
        if msgs:
            progress = now
        elif now - progress > stall:
            print(f"first {first or 0:.3f} last {last or 0:.3f} count {n}")
            sys.exit(1)
    print(f"first {first:.3f} last {last:.3f} count {n}")


def latency(bootstrap, topic, tx_topic, count, warmup):
    c = consumer(bootstrap, topic)
    seen = {}
    progress = time.time()
    while len(seen) < count:
        msgs = take(c)
        now_ms = time.time() * 1000
        for m in msgs:
            if not m.error():
                seen.setdefault(int(ID.search(m.value()).group(1)), now_ms)
        if msgs:
            progress = time.time()
        elif time.time() - progress > 120:
            break
    c.close()
    produced = {}
    for m in read_all(bootstrap, tx_topic):
        produced[int(ID.search(m.value()).group(1))] = m.timestamp()[1]
    ids = sorted(produced)
    skip = int(len(ids) * warmup)
    lat = sorted(seen[i] - produced[i] for i in ids[skip:] if i in seen)
    missing = sum(1 for i in ids[skip:] if i not in seen)
    if os.environ.get("BENCH_LATENCY_DUMP"):  # one line a transaction: id, produced, readable (epoch ms)
        with open(os.environ["BENCH_LATENCY_DUMP"], "w") as f:
            for i in ids:
                f.write(f"{i} {produced[i]} {seen.get(i, float('nan')):.1f}\n")

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    print(f"latency_ms n {len(lat)} missing {missing} p50 {q(0.5):.1f} p99 {q(0.99):.1f} "
          f"p99.9 {q(0.999):.1f} max {lat[-1] if lat else float('nan'):.1f}")


def vector(v):
    if "FEATURES" in v:
        return v["FEATURES"]
    return [v[name] for name in FEATURES]


def verify(bootstrap, count, named):
    reference = None
    ok = True
    for name, topic in named:
        scores, features, records = {}, {}, 0
        for m in read_all(bootstrap, topic):
            v = json.loads(m.value())
            records += 1
            i = v["TRANSACTION_ID"]
            scores.setdefault(i, []).append(v["SCORE"])
            features[i] = vector(v)
        dups = sum(len(s) - 1 for s in scores.values())
        missing = sum(1 for i in range(count) if i not in scores)
        extra = sum(1 for i in scores if not 0 <= i < count)
        line = f"{name}: {records} decisions, {len(scores)} transactions, {dups} duplicates, {missing} missing, {extra} unknown"
        good = records == count and dups == 0 and missing == 0 and extra == 0
        if reference is None:
            reference = (name, scores, features)
        else:
            ref_name, ref_scores, ref_features = reference
            worst, worst_id, over = 0.0, None, 0
            fworst, fname, fid, fdiffer = 0.0, None, None, 0
            for i, s in scores.items():
                if i not in ref_scores:
                    continue
                d = abs(s[0] - ref_scores[i][0])
                if d > 1e-5:
                    over += 1
                if d > worst:
                    worst, worst_id = d, i
                differs = False
                for k, (a, b) in enumerate(zip(features[i], ref_features[i])):
                    fd = abs(a - b) / max(1.0, abs(b))
                    if fd > 1e-9:
                        differs = True
                    if fd > fworst:
                        fworst, fname, fid = fd, FEATURES[k], i
                fdiffer += differs
            line += (f"; vs {ref_name}: worst |score diff| {worst:.3g} (transaction {worst_id}), {over} over 1e-5; "
                     f"{fdiffer} feature vectors differ, worst relative {fworst:.3g} ({fname}, transaction {fid})")
            good = good and over == 0
        print(("OK   " if good else "FAIL ") + line)
        ok = ok and good
    sys.exit(0 if ok else 1)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "wait":
        wait(args[0], args[1], int(args[2]), float(args[3]) if len(args) > 3 else 300.0)
    elif cmd == "latency":
        latency(args[0], args[1], args[2], int(args[3]), float(args[4]))
    elif cmd == "verify":
        verify(args[0], int(args[1]), [a.split("=", 1) for a in args[2:]])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
