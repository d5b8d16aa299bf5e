package vigil.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Stage 2, keyed by terminal, over the repartitioned transactions merged with the label stream: the
 * terminal's count and fraud risk over 1, 7 and 30 days delayed by 7 days, window
 * (t - 7d - w, t - 7d], where a label counts only if it was known by t (its LABEL_TIME_MS); then the
 * model's score. The store holds the terminal's last 37 days (plus a lateness of 7) of transactions
 * with their labels, and labels that arrived before their transaction.
 */
final class TerminalWindows implements Processor<String, String, String, String> {
  static final String STORE = "terminal-windows";
  private static final long DAY = CustomerWindows.DAY;
  private static final long DELAY = 7 * DAY;
  private static final long[] WINDOWS = {DAY, 7 * DAY, 30 * DAY};
  private static final long UNKNOWN = Long.MAX_VALUE;
  // How far behind the terminal's newest transaction one may arrive and still find its window whole:
  // the repartitioned stream interleaves every input partition, each at its own pace. vigil's window
  // declares the same (lateness: 7d).
  private static final long LATENESS = 7 * DAY;

  private final Forest forest;
  private final double threshold;
  private ProcessorContext<String, String> context;
  private KeyValueStore<String, byte[]> store;

  TerminalWindows(Forest forest, double threshold) {
    this.forest = forest;
    this.threshold = threshold;
  }

  /** A transaction of the terminal, or a label not yet matched (time = UNKNOWN). */
  private static final class Entry {
    long time, id, labelTime;
    double fraud;

    Entry(long time, long id, long labelTime, double fraud) {
      this.time = time;
      this.id = id;
      this.labelTime = labelTime;
      this.fraud = fraud;
    }
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    this.store = context.getStateStore(STORE);
  }

  private List<Entry> read(String key) {
    byte[] bytes = store.get(key);
    List<Entry> entries = new ArrayList<>();
    if (bytes == null) return entries;
    ByteBuffer in = ByteBuffer.wrap(bytes);
    while (in.hasRemaining()) entries.add(new Entry(in.getLong(), in.getLong(), in.getLong(), in.getDouble()));
    return entries;
  }

  private void write(String key, List<Entry> entries) {
    ByteBuffer out = ByteBuffer.allocate(entries.size() * 32);
    for (Entry e : entries) out.putLong(e.time).putLong(e.id).putLong(e.labelTime).putDouble(e.fraud);
    store.put(key, out.array());
  }

  @Override
  public void process(Record<String, String> record) {
    String[] f = record.value().split("\\|");
    List<Entry> entries = read(record.key());
    if (f[0].equals("L")) {
      long id = Long.parseLong(f[1]);
      long labelTime = Long.parseLong(f[2]);
      double fraud = Double.parseDouble(f[3]);
      for (Entry e : entries) {
        if (e.id == id) {
          e.labelTime = labelTime;
          e.fraud = fraud;
          write(record.key(), entries);
          return;
        }
      }
      entries.add(new Entry(UNKNOWN, id, labelTime, fraud));  // ahead of its transaction
      write(record.key(), entries);
      return;
    }
    long id = Long.parseLong(f[1]);
    long t = Long.parseLong(f[2]);
    Entry current = new Entry(t, id, UNKNOWN, 0);
    long newest = t;
    for (Entry e : entries) {
      if (e.time != UNKNOWN) newest = Math.max(newest, e.time);
    }
    long horizon = newest - LATENESS - DELAY - WINDOWS[2];
    List<Entry> kept = new ArrayList<>(entries.size() + 1);
    for (Entry e : entries) {
      if (e.time == UNKNOWN && e.id == id) {
        current.labelTime = e.labelTime;
        current.fraud = e.fraud;
      } else if ((e.time == UNKNOWN ? e.labelTime : e.time) > horizon) {
        kept.add(e);
      }
    }
    kept.add(current);
    write(record.key(), kept);

    double[] row = new double[15];
    for (int i = 0; i < 9; i++) row[i] = Double.parseDouble(f[4 + i]);
    for (int w = 0; w < WINDOWS.length; w++) {
      int count = 0;
      double frauds = 0;
      for (Entry e : kept) {
        if (e.time != UNKNOWN && e.time > t - DELAY - WINDOWS[w] && e.time <= t - DELAY) {
          count++;
          if (e.labelTime <= t) frauds += e.fraud;
        }
      }
      row[9 + 2 * w] = count;
      row[10 + 2 * w] = count == 0 ? 0 : frauds / count;
    }
    double score = forest.predict(row);
    StringBuilder v = new StringBuilder(400);
    v.append("{\"TRANSACTION_ID\":").append(id).append(",\"TX_TIME_MS\":").append(t)
        .append(",\"SCORE\":").append(score).append(",\"DECISION\":").append(score >= threshold ? 1 : 0)
        .append(",\"FEATURES\":[");
    for (int i = 0; i < row.length; i++) v.append(i == 0 ? "" : ",").append(row[i]);
    v.append("]}");
    context.forward(record.withKey(f[1]).withValue(v.toString()));
  }
}
