"""Trains an XGBoost model in Python on a `vigil replay` table, as a data scientist would, and writes
what `tests/app/models_command_test.cc` imports and compares:

    import_model.py TABLE.csv FEATURES(comma-separated) OUT_DIR

OUT_DIR/model.json and OUT_DIR/model.ubj (the same booster in both formats), OUT_DIR/predictions.csv
(TRANSACTION_ID, the booster's predict for that row, to 17 significant digits) and
OUT_DIR/xgboost_version.txt. Runs with Debian's xgboost 1.7 or the 3.x of scripts/setup's venv."""
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
with open(out + "/xgboost_version.txt", "w") as f:
    f.write(xgb.__version__)
