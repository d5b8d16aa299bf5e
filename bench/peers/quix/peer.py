"""The Handbook pipeline in Quix Streams: transactions keyed by customer → customer windows →
group_by terminal (a repartition topic) → concatenated with the labels (keyed by terminal) → terminal
windows → a batching sink that scores each checkpoint's rows with one xgboost call and writes the
decisions topic. RocksDB state with changelog topics, processing_guarantee="exactly-once" for the
state, the repartition topic and the offsets. Runs until SIGTERM.

Quix Streams calls the dataframe's functions one message at a time and has no hook between a batch's
consume and its produce; one libxgboost call per message costs ~1 ms of Python and ctypes overhead,
100x a row in a batch. The batch is therefore scored in a Sink, which Quix flushes at each checkpoint
before it commits the offsets: decisions are written at least once (a crash between the sink's flush
and the commit repeats them), as Quix documents for every sink.
"""

import argparse
import json
import signal

import numpy as np
import xgboost as xgb
from confluent_kafka import Producer
from quixstreams import Application, State
from quixstreams.sinks import BatchingSink, SinkBatch

DAY = 86_400_000
DELAY = 7 * DAY
WINDOWS = (DAY, 7 * DAY, 30 * DAY)
# How far behind the terminal's newest transaction one may arrive and still find its window whole: the
# repartitioned stream interleaves every input partition, each at its own pace. vigil's window
# declares the same (lateness: 7d).
LATENESS = 7 * DAY


def customer_windows(tx: dict, state: State) -> dict:
    """Calendar flags and the customer's count and average amount over (t - w, t]."""
    t, amount = tx["TX_TIME_MS"], tx["TX_AMOUNT"]
    history = [e for e in state.get("h", []) if e[0] > t - WINDOWS[-1]]
    history.append([t, amount])
    state.set("h", history)
    hour = t % DAY // 3_600_000
    weekday = (t // DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    features = [amount, 1 if weekday >= 5 else 0, 1 if hour <= 6 else 0]
    for w in WINDOWS:
        amounts = [a for (ti, a) in history if t - w < ti <= t]
        total = 0.0
        for a in amounts:
            total += a
        features += [len(amounts), total / len(amounts)]
    return {"id": tx["TRANSACTION_ID"], "t": t, "terminal": tx["TERMINAL_ID"], "f": features}


def terminal_windows(record: dict, state: State):
    """Labels are kept with their transaction (or pending, when they come first); a transaction gets
    the terminal's count and fraud risk over (t - 7d - w, t - 7d], counting the labels known by t."""
    entries = state.get("e", [])  # [time or None, id, label time or None, fraud]
    if "label" in record:
        for e in entries:
            if e[1] == record["id"]:
                e[2], e[3] = record["label_time"], record["label"]
                break
        else:
            entries.append([None, record["id"], record["label_time"], record["label"]])
        state.set("e", entries)
        return None
    t, tx_id = record["t"], record["id"]
    current = [t, tx_id, None, 0]
    newest = max([t] + [e[0] for e in entries if e[0] is not None])
    horizon = newest - LATENESS - DELAY - WINDOWS[-1]
    kept = []
    for e in entries:
        if e[0] is None and e[1] == tx_id:
            current[2], current[3] = e[2], e[3]
        elif (e[2] if e[0] is None else e[0]) > horizon:
            kept.append(e)
    kept.append(current)
    state.set("e", kept)
    features = record["f"]
    for w in WINDOWS:
        count, frauds = 0, 0.0
        for e in kept:
            if e[0] is not None and t - DELAY - w < e[0] <= t - DELAY:
                count += 1
                if e[2] is not None and e[2] <= t:
                    frauds += e[3]
        features += [count, frauds / count if count else 0.0]
    return {"id": tx_id, "t": t, "f": features}


class ScoreSink(BatchingSink):
    """Scores a checkpoint's rows of one partition in one libxgboost call and produces the decisions,
    flushed before Quix commits the offsets."""

    def __init__(self, bootstrap: str, topic: str, model: str, threshold: float):
        super().__init__()
        self._topic = topic
        self._threshold = threshold
        self._booster = xgb.Booster(params={"nthread": 1}, model_file=model)
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                   "linger.ms": 5, "partitioner": "murmur2_random"})

    def write(self, batch: SinkBatch):
        rows = [item.value for item in batch]
        if not rows:
            return
        scores = self._booster.inplace_predict(np.array([r["f"] for r in rows], dtype=np.float64))
        for r, s in zip(rows, scores.tolist()):
            decision = {"TRANSACTION_ID": r["id"], "TX_TIME_MS": r["t"], "SCORE": s,
                        "DECISION": int(s >= self._threshold), "FEATURES": r["f"]}
            key = str(r["id"])
            while True:
                try:
                    self._producer.produce(self._topic, json.dumps(decision), key)
                    break
                except BufferError:
                    self._producer.poll(0.05)
        if self._producer.flush(60) != 0:
            raise RuntimeError("decisions not delivered within 60 s")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--tx", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--commit-interval", type=float, default=1.0, help="seconds between checkpoints")
    p.add_argument("--guarantee", default="exactly-once", choices=["exactly-once", "at-least-once"])
    a = p.parse_args()

    app = Application(broker_address=a.bootstrap, consumer_group=a.group, auto_offset_reset="earliest",
                      commit_interval=a.commit_interval, processing_guarantee=a.guarantee,
                      state_dir=a.state_dir, loglevel="WARNING")
    tx_topic = app.topic(a.tx, key_deserializer="str", value_deserializer="json",
                         timestamp_extractor=lambda v, h, ts, tt: v["TX_TIME_MS"])
    labels_topic = app.topic(a.labels, key_deserializer="str", value_deserializer="json",
                             timestamp_extractor=lambda v, h, ts, tt: v["LABEL_TIME_MS"])

    by_customer = app.dataframe(tx_topic).apply(customer_windows, stateful=True)
    # Keys as decimal text, so that the repartition topic co-partitions with the labels' (murmur2).
    by_terminal = by_customer.group_by(lambda r: str(r["terminal"]), name="terminal",
                                       key_serializer="str", key_deserializer="str")
    labels = app.dataframe(labels_topic).apply(
        lambda v: {"label": v["TX_FRAUD"], "id": v["TRANSACTION_ID"], "label_time": v["LABEL_TIME_MS"]})
    scored = by_terminal.concat(labels).apply(terminal_windows, stateful=True).filter(lambda r: r is not None)
    scored.sink(ScoreSink(a.bootstrap, a.out, a.model, 0.5))

    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    app.run()


if __name__ == "__main__":
    main()
