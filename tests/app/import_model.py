"""Trains an XGBoost model in Python on a `vigil replay` table, as a data scientist would, and writes
what `tests/app/train_evaluate_test.cc` imports and compares:

    import_model.py TABLE.csv FEATURES(comma-separated) OUT_DIR

OUT_DIR/model.json and OUT_DIR/model.ubj (the same booster in both formats) and OUT_DIR/predictions.csv
(TRANSACTION_ID, the booster's predict for that row, to 17 significant digits)."""
import sys

import pandas as pd
import xgboost as xgb

table, features, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
df = pd.read_csv(table)
train = xgb.DMatrix(df[features], label=df["LABEL"])  # a DataFrame: the model records the feature names
booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1}, train, num_boost_round=15)
booster.save_model(out + "/model.json")
booster.save_model(out + "/model.ubj")
scores = booster.predict(xgb.DMatrix(df[features]))
with open(out + "/predictions.csv", "w") as f:
    for tid, score in zip(df["TRANSACTION_ID"], scores):
        f.write("%d,%.17g\n" % (tid, score))
