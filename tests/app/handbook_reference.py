#!/usr/bin/python3
"""Independent reference for the Handbook's 15 baseline features, written with pandas rolling windows
as the book computes them, compared with a table written by `vigil replay`.

usage: handbook_reference.py TRANSACTIONS.jsonl VIGIL_TABLE.csv
Exit 0 when every value agrees within a relative 1e-9; otherwise prints the first differences."""
import sys

import numpy as np
import pandas as pd

DELAY = 7
WINDOWS = (1, 7, 30)


def reference(tx: pd.DataFrame) -> pd.DataFrame:
    tx = tx.sort_values("TRANSACTION_ID").copy()
    tx["TX_DATETIME"] = pd.to_datetime(tx["TX_TIME_MS"], unit="ms")
    out = pd.DataFrame({"TRANSACTION_ID": tx["TRANSACTION_ID"], "TX_AMOUNT": tx["TX_AMOUNT"]})
    out["TX_DURING_WEEKEND"] = (tx["TX_DATETIME"].dt.weekday >= 5).astype(int)
    out["TX_DURING_NIGHT"] = (tx["TX_DATETIME"].dt.hour <= 6).astype(int)
    indexed = tx.set_index("TX_DATETIME")
    for w in WINDOWS:
        by_customer = indexed.groupby("CUSTOMER_ID")["TX_AMOUNT"]
        count = by_customer.rolling(f"{w}D").count().reset_index(level=0, drop=True)
        total = by_customer.rolling(f"{w}D").sum().reset_index(level=0, drop=True)
        ids = indexed.groupby("CUSTOMER_ID")["TRANSACTION_ID"].rolling(f"{w}D").max().reset_index(level=0, drop=True)
        frame = pd.DataFrame({"id": ids.values.astype(np.int64), "n": count.values, "avg": (total / count).values})
        frame = frame.set_index("id").loc[out["TRANSACTION_ID"]]
        out[f"CUSTOMER_ID_NB_TX_{w}DAY_WINDOW"] = frame["n"].values
        out[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"] = frame["avg"].values
    for w in WINDOWS:
        g = indexed.groupby("TERMINAL_ID")
        ids = g["TRANSACTION_ID"].rolling(f"{DELAY + w}D").max().reset_index(level=0, drop=True).values.astype(np.int64)
        n_delay = g["TX_FRAUD"].rolling(f"{DELAY}D").count().reset_index(level=0, drop=True).values
        f_delay = g["TX_FRAUD"].rolling(f"{DELAY}D").sum().reset_index(level=0, drop=True).values
        n_all = g["TX_FRAUD"].rolling(f"{DELAY + w}D").count().reset_index(level=0, drop=True).values
        f_all = g["TX_FRAUD"].rolling(f"{DELAY + w}D").sum().reset_index(level=0, drop=True).values
        n = n_all - n_delay
        risk = np.where(n > 0, (f_all - f_delay) / np.where(n > 0, n, 1), 0.0)
        frame = pd.DataFrame({"id": ids, "n": n, "risk": risk}).set_index("id").loc[out["TRANSACTION_ID"]]
        out[f"TERMINAL_ID_NB_TX_{w}DAY_WINDOW"] = frame["n"].values
        out[f"TERMINAL_ID_RISK_{w}DAY_WINDOW"] = frame["risk"].values
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
        a, b = ref[col].to_numpy(dtype=float), vigil[col].to_numpy(dtype=float)
        close = np.isclose(a, b, rtol=1e-9, atol=1e-12)
        if not close.all():
            i = np.flatnonzero(~close)
            print(f"{col}: {len(i)} differences, e.g. id {ref.index[i[0]]}: reference {a[i[0]]!r} vigil {b[i[0]]!r}")
            bad += len(i)
    print(f"compared {len(ref)} transactions x {len(ref.columns)} features: {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
