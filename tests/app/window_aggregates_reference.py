#!/usr/bin/python3
"""Independent reference for the window aggregates beyond the Handbook's (tests/support/handbook.cc,
AggregateWindows), written with pandas rolling windows, compared with a table written by `vigil replay`.

- stddev: rolling std(ddof=0), the population standard deviation;
- zscore: (amount - rolling mean) / rolling std(ddof=0), 0 where that std is 0;
- distinct: rolling apply of the number of unique values;
- ratio_to_X: amount / rolling X, NaN where X is 0;
- last: rolling apply of the newest value that is not NaN (NaN for none);
- time_since_last: the difference of event times within the key (groupby diff), NaN for the first;
- a card x terminal key: groupby on both columns;
- `where: FLAG`: the aggregate over the column masked to NaN where FLAG is 0 (a count: the rolling sum of
  FLAG; a ratio: the masked sums divided, 0 over nothing), FLAG computed here from the event time.
Windows are (t - w, t] with delay 0 (pandas' offset windows, which end at the current row, so a later
twin is not seen), and (t - d - w, t - d] with a delay (a BaseIndexer whose bounds are found on the
group's sorted times).

usage: window_aggregates_reference.py TRANSACTIONS.jsonl VIGIL_TABLE.csv
Exit 0 when every value agrees within a relative 1e-9 (NaN with NaN); otherwise prints the differences."""
import sys

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

DAY_MS = 86_400_000


class DelayedWindow(BaseIndexer):
    """For each row at time t of one group (times sorted), the rows with time in (t - delay - w, t - delay]."""

    def get_window_bounds(self, num_values=0, min_periods=None, center=None, closed=None, step=None):
        t = self.times
        end = np.searchsorted(t, t - self.delay_ms, side="right")
        start = np.searchsorted(t, t - self.delay_ms - self.window_ms, side="right")
        return start.astype(np.int64), end.astype(np.int64)


def distinct(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(len(np.unique(values)))


def rolling(tx: pd.DataFrame, key, column: str, days: int):
    """groupby(key).rolling over (t - days, t], aligned with tx's rows."""
    return tx.groupby(key).rolling(f"{days}D", on="TX_DATETIME")[column]


def aligned(tx: pd.DataFrame, key, result: pd.Series) -> np.ndarray:
    """The values of a groupby rolling `result` in tx's row order. Its rows come group by group (in the
    groups' order, ngroup), each group's in tx's order; its index (the key, then the `on` column) cannot
    tell twins apart, so the order is rebuilt from the groups."""
    order = np.argsort(tx.groupby(key).ngroup().to_numpy(), kind="stable")
    out = np.empty(len(tx))
    out[order] = result.to_numpy(dtype=float)
    return out


def delayed(tx: pd.DataFrame, key: str, column: str, days: int, delay_days: int, fn) -> np.ndarray:
    """fn(rolling) over (t - delay - w, t - delay] per value of `key`, aligned with tx's rows."""
    out = pd.Series(np.nan, index=tx.index)
    for _, group in tx.groupby(key, sort=False):
        window = DelayedWindow(window_size=0)
        window.times = group["TX_TIME_MS"].to_numpy(dtype=np.int64)
        window.window_ms = days * DAY_MS
        window.delay_ms = delay_days * DAY_MS
        out.loc[group.index] = fn(group[column].rolling(window, min_periods=0)).to_numpy(dtype=float)
    return out.to_numpy(dtype=float)


def last(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values[-1]) if len(values) else np.nan


def zscore(amount: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std == 0, 0.0, (amount - mean) / std)


def ratio_to(amount: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base == 0, np.nan, amount / base)


def reference(tx: pd.DataFrame) -> pd.DataFrame:
    tx = tx.sort_values("TRANSACTION_ID").reset_index(drop=True)
    tx["TX_DATETIME"] = pd.to_datetime(tx["TX_TIME_MS"], unit="ms")
    amount = tx["TX_AMOUNT"].to_numpy(dtype=float)
    out = pd.DataFrame({"TRANSACTION_ID": tx["TRANSACTION_ID"]})

    c = "CUSTOMER_ID"
    out["CUSTOMER_ID_STD_AMOUNT_7DAY_WINDOW"] = aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 7).std(ddof=0))
    mean30 = aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 30).mean())
    std30 = aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 30).std(ddof=0))
    out["CUSTOMER_ID_ZSCORE_AMOUNT_30DAY_WINDOW"] = zscore(amount, mean30, std30)
    out["CUSTOMER_ID_NB_TERMINALS_30DAY_WINDOW"] = aligned(
        tx, c, rolling(tx, c, "TERMINAL_ID", 30).apply(distinct, raw=True))
    out["CUSTOMER_ID_MS_SINCE_LAST_TX"] = tx.groupby(c)["TX_TIME_MS"].diff().to_numpy(dtype=float)
    out["CUSTOMER_ID_AMOUNT_TO_30DAY_AVG"] = ratio_to(amount, mean30)
    out["CUSTOMER_ID_AMOUNT_TO_7DAY_MAX"] = ratio_to(amount, aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 7).max()))
    out["CUSTOMER_ID_AMOUNT_TO_7DAY_MIN"] = ratio_to(amount, aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 7).min()))
    out["CUSTOMER_ID_AMOUNT_TO_1DAY_SUM"] = ratio_to(amount, aligned(tx, c, rolling(tx, c, "TX_AMOUNT", 1).sum()))

    # where: the night (hour <= 6) and weekend flags of handbook.yaml's derive, from the event time.
    night = (tx["TX_DATETIME"].dt.hour <= 6).astype(float)
    weekend = (tx["TX_DATETIME"].dt.dayofweek >= 5).astype(float)
    tx["NIGHT"] = night
    tx["NIGHT_AMOUNT"] = np.where(night == 1, amount, np.nan)
    out["CUSTOMER_ID_NB_NIGHT_TX_7DAY_WINDOW"] = aligned(tx, c, rolling(tx, c, "NIGHT", 7).sum())
    out["CUSTOMER_ID_MAX_NIGHT_AMOUNT_30DAY_WINDOW"] = aligned(tx, c, rolling(tx, c, "NIGHT_AMOUNT", 30).max())

    pair = ["CUSTOMER_ID", "TERMINAL_ID"]
    out["CUSTOMER_TERMINAL_NB_TX_30DAY_WINDOW"] = aligned(tx, pair, rolling(tx, pair, "TX_AMOUNT", 30).count())
    out["CUSTOMER_TERMINAL_MS_SINCE_LAST_TX"] = tx.groupby(pair)["TX_TIME_MS"].diff().to_numpy(dtype=float)

    t = "TERMINAL_ID"
    std7 = delayed(tx, t, "TX_AMOUNT", 7, 7, lambda r: r.std(ddof=0))
    out["TERMINAL_ID_STD_AMOUNT_7DAY_WINDOW"] = std7
    out["TERMINAL_ID_ZSCORE_AMOUNT_7DAY_WINDOW"] = zscore(amount, delayed(tx, t, "TX_AMOUNT", 7, 7, lambda r: r.mean()),
                                                          std7)
    out["TERMINAL_ID_NB_CUSTOMERS_30DAY_WINDOW"] = np.nan_to_num(
        delayed(tx, t, "CUSTOMER_ID", 30, 7, lambda r: r.apply(distinct, raw=True)), nan=0.0)
    out["TERMINAL_ID_AMOUNT_TO_30DAY_AVG"] = ratio_to(amount, delayed(tx, t, "TX_AMOUNT", 30, 7, lambda r: r.mean()))
    # Every label of the delayed window is known by t: the simulator's labels come within the delay.
    out["TERMINAL_ID_RISK_STD_30DAY_WINDOW"] = delayed(tx, t, "TX_FRAUD", 30, 7, lambda r: r.std(ddof=0))
    tx["WEEKEND"] = weekend
    tx["WEEKEND_FRAUD"] = tx["TX_FRAUD"] * weekend
    tx["WEEKEND_AMOUNT"] = np.where(weekend == 1, amount, 0.0)
    weekend_30 = delayed(tx, t, "WEEKEND", 30, 7, lambda r: r.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        out["TERMINAL_ID_WEEKEND_RISK_30DAY_WINDOW"] = np.where(
            weekend_30 == 0, 0.0, delayed(tx, t, "WEEKEND_FRAUD", 30, 7, lambda r: r.sum()) / weekend_30)
        out["TERMINAL_ID_WEEKEND_AMOUNT_PER_TX_30DAY_WINDOW"] = np.where(
            weekend_30 == 0, 0.0, delayed(tx, t, "WEEKEND_AMOUNT", 30, 7, lambda r: r.sum()) / weekend_30)
    out["TERMINAL_ID_WEEKEND_FRAUDS_7DAY_WINDOW"] = delayed(tx, t, "WEEKEND_FRAUD", 7, 7, lambda r: r.sum())
    out["TERMINAL_ID_LAST_LABEL_30DAY_WINDOW"] = delayed(tx, t, "TX_FRAUD", 30, 7,
                                                         lambda r: r.apply(last, raw=True))
    tx["FRAUD_ON_WEEKEND"] = np.where(weekend == 1, tx["TX_FRAUD"], np.nan)
    out["TERMINAL_ID_LAST_WEEKEND_LABEL_30DAY_WINDOW"] = delayed(tx, t, "FRAUD_ON_WEEKEND", 30, 7,
                                                                 lambda r: r.apply(last, raw=True))
    return out


def main() -> int:
    tx = pd.read_json(sys.argv[1], lines=True)
    vigil = pd.read_csv(sys.argv[2]).set_index("TRANSACTION_ID")
    ref = reference(tx).set_index("TRANSACTION_ID")
    if len(ref) != len(vigil) or not ref.index.equals(vigil.index.sort_values()):
        print(f"row mismatch: reference {len(ref)} rows, vigil {len(vigil)} rows")
        return 1
    vigil = vigil.loc[ref.index]
    bad = 0
    for col in ref.columns:
        if col not in vigil.columns:
            print(f"{col}: not in the vigil table")
            bad += 1
            continue
        a, b = ref[col].to_numpy(dtype=float), vigil[col].to_numpy(dtype=float)
        close = np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
        if not close.all():
            i = np.flatnonzero(~close)
            print(f"{col}: {len(i)} differences, e.g. id {ref.index[i[0]]}: reference {a[i[0]]!r} vigil {b[i[0]]!r}")
            bad += len(i)
        print(f"{col}: {np.count_nonzero(np.isnan(a))} NaN, mean {np.nanmean(a):.6g}")
    print(f"compared {len(ref)} transactions x {len(ref.columns)} features: {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
