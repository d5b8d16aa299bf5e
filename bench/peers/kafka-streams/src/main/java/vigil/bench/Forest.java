package vigil.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;

/**
 * An XGBoost binary:logistic model read from its JSON dump (the registry's model.json) and evaluated
 * by walking each tree, as libxgboost does: features and thresholds in float, `value < split` goes
 * left, a NaN follows default_left, leaves summed in float onto the base margin, then the sigmoid.
 * Immutable after load; safe to share between stream threads.
 */
final class Forest {
  private final int[][] left;
  private final int[][] right;
  private final int[][] feature;
  private final float[][] split;  // a leaf's value sits in split_conditions, as in the dump
  private final boolean[][] defaultLeft;
  private final float baseMargin;

  private Forest(int trees) {
    left = new int[trees][];
    right = new int[trees][];
    feature = new int[trees][];
    split = new float[trees][];
    defaultLeft = new boolean[trees][];
    baseMargin = 0f;
  }

  private Forest(Forest shape, float baseMargin) {
    left = shape.left;
    right = shape.right;
    feature = shape.feature;
    split = shape.split;
    defaultLeft = shape.defaultLeft;
    this.baseMargin = baseMargin;
  }

  static Forest load(String path) throws IOException {
    JsonNode learner = new ObjectMapper().readTree(new File(path)).get("learner");
    String objective = learner.get("objective").get("name").asText();
    if (!objective.equals("binary:logistic")) {
      throw new IOException(path + ": objective " + objective + ", expected binary:logistic");
    }
    // base_score is a probability for binary:logistic; the trees add to its logit.
    double baseScore = Double.parseDouble(learner.get("learner_model_param").get("base_score").asText());
    JsonNode trees = learner.get("gradient_booster").get("model").get("trees");
    Forest f = new Forest(trees.size());
    for (int t = 0; t < trees.size(); t++) {
      JsonNode tree = trees.get(t);
      f.left[t] = ints(tree.get("left_children"));
      f.right[t] = ints(tree.get("right_children"));
      f.feature[t] = ints(tree.get("split_indices"));
      JsonNode sc = tree.get("split_conditions");
      f.split[t] = new float[sc.size()];
      for (int i = 0; i < sc.size(); i++) f.split[t][i] = (float) sc.get(i).asDouble();
      JsonNode dl = tree.get("default_left");
      f.defaultLeft[t] = new boolean[dl.size()];
      for (int i = 0; i < dl.size(); i++) f.defaultLeft[t][i] = dl.get(i).asInt() != 0;
    }
    return new Forest(f, (float) Math.log(baseScore / (1 - baseScore)));
  }

  private static int[] ints(JsonNode a) {
    int[] out = new int[a.size()];
    for (int i = 0; i < a.size(); i++) out[i] = a.get(i).asInt();
    return out;
  }

  /** The probability of class 1 for one row of features (in the model's order). */
  double predict(double[] row) {
    float[] x = new float[row.length];
    for (int i = 0; i < row.length; i++) x[i] = (float) row[i];
    float margin = baseMargin;
    for (int t = 0; t < left.length; t++) {
      int n = 0;
      int[] l = left[t];
      while (l[n] != -1) {
        float v = x[feature[t][n]];
        if (Float.isNaN(v)) n = defaultLeft[t][n] ? l[n] : right[t][n];
        else n = v < split[t][n] ? l[n] : right[t][n];
      }
      margin += split[t][n];
    }
    return (float) (1.0 / (1.0 + Math.exp(-margin)));
  }
}
