"""Produces the simulated transactions and their labels at a fixed rate, for the latency run of
scripts/bench-e2e. Transactions (keyed by CUSTOMER_ID) and labels (keyed by their transaction's
TERMINAL_ID) go out merged in event-time order, a label once the transactions reach its
LABEL_TIME_MS, paced by the transactions: the i-th leaves at start + i / rate. Each record's
timestamp is the wall time at which it was produced (CreateTime), the start of its latency.

usage: pace.py BOOTSTRAP TX_TOPIC LABELS_TOPIC TX_JSONL LABELS_JSONL RATE COUNT
Prints the transactions produced, the seconds taken and the largest lag behind the schedule.
"""

import json
import sys
import time

from confluent_kafka import Producer


def main():
    bootstrap, tx_topic, labels_topic, tx_path, labels_path = sys.argv[1:6]
    rate, count = float(sys.argv[6]), int(sys.argv[7])
    txs = []
    terminal = {}
    with open(tx_path) as f:
        for line in f:
            if len(txs) == count:
                break
            v = json.loads(line)
            txs.append((v["TX_TIME_MS"], str(v["CUSTOMER_ID"]), line.rstrip("\n")))
            terminal[v["TRANSACTION_ID"]] = str(v["TERMINAL_ID"])
    labels = []
    with open(labels_path) as f:
        for line in f:
            v = json.loads(line)
            if v["TRANSACTION_ID"] in terminal:
                labels.append((v["LABEL_TIME_MS"], terminal[v["TRANSACTION_ID"]], line.rstrip("\n")))
    labels.sort(key=lambda r: r[0])
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "partitioner": "murmur2_random",
                  "enable.idempotence": True, "queue.buffering.max.messages": 1_000_000})

    def produce(topic, value, key):
        while True:
            try:
                p.produce(topic, value, key)
                return
            except BufferError:
                p.poll(0.01)

    start = time.monotonic()
    worst = 0.0
    li = 0
    for i, (t, key, value) in enumerate(txs):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            worst = max(worst, now - due)
        while li < len(labels) and labels[li][0] <= t:
            produce(labels_topic, labels[li][2], labels[li][1])
            li += 1
        produce(tx_topic, value, key)
        if i % 1000 == 0:
            p.poll(0)
    while li < len(labels):  # the rest of the labels, for completeness of the topic
        produce(labels_topic, labels[li][2], labels[li][1])
        li += 1
    p.flush(60)
    print(f"paced {len(txs)} transactions in {time.monotonic() - start:.1f} s, "
          f"{len(txs) / (time.monotonic() - start):.0f}/s, worst lag behind the schedule {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
