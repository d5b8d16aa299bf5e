package vigil.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Stage 1, keyed by customer: the calendar flags and the customer's count and average amount over
 * 1, 7 and 30 days, window (t - w, t] (the current transaction included). The store holds each
 * customer's last 30 days as (time, amount) pairs; the result goes on, keyed by terminal, as
 * "T|id|time|terminal|amount|weekend|night|n1|avg1|n7|avg7|n30|avg30".
 */
final class CustomerWindows implements Processor<String, String, String, String> {
  static final String STORE = "customer-windows";
  static final long DAY = 86_400_000L;
  private static final long[] WINDOWS = {DAY, 7 * DAY, 30 * DAY};

  private final ObjectMapper json = new ObjectMapper();
  private ProcessorContext<String, String> context;
  private KeyValueStore<String, byte[]> store;

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    this.store = context.getStateStore(STORE);
  }

  @Override
  public void process(Record<String, String> record) {
    JsonNode tx;
    try {
      tx = json.readTree(record.value());
    } catch (Exception e) {
      return;  // a malformed record: nothing to score
    }
    long id = tx.get("TRANSACTION_ID").asLong();
    long t = tx.get("TX_TIME_MS").asLong();
    long terminal = tx.get("TERMINAL_ID").asLong();
    double amount = tx.get("TX_AMOUNT").asDouble();
    String customer = record.key();

    // Old entries first, evicted past the longest window; then the current one.
    byte[] old = store.get(customer);
    ByteBuffer in = old == null ? ByteBuffer.allocate(0) : ByteBuffer.wrap(old);
    int n = in.remaining() / 16;
    long[] times = new long[n + 1];
    double[] amounts = new double[n + 1];
    int kept = 0;
    for (int i = 0; i < n; i++) {
      long ti = in.getLong();
      double ai = in.getDouble();
      if (ti > t - WINDOWS[2]) {
        times[kept] = ti;
        amounts[kept++] = ai;
      }
    }
    times[kept] = t;
    amounts[kept++] = amount;
    ByteBuffer out = ByteBuffer.allocate(kept * 16);
    for (int i = 0; i < kept; i++) out.putLong(times[i]).putDouble(amounts[i]);
    store.put(customer, out.array());

    StringBuilder v = new StringBuilder(160);
    long hour = Math.floorMod(t, DAY) / 3_600_000L;
    long weekday = Math.floorMod(Math.floorDiv(t, DAY) + 3, 7);  // 1970-01-01 was a Thursday; Monday = 0
    v.append("T|").append(id).append('|').append(t).append('|').append(terminal).append('|').append(amount)
        .append('|').append(weekday >= 5 ? 1 : 0).append('|').append(hour <= 6 ? 1 : 0);
    for (long w : WINDOWS) {
      int count = 0;
      double sum = 0;
      for (int i = 0; i < kept; i++) {
        if (times[i] > t - w && times[i] <= t) {
          count++;
          sum += amounts[i];
        }
      }
      v.append('|').append(count).append('|').append(sum / count);
    }
    context.forward(record.withKey(Long.toString(terminal)).withValue(v.toString()));
  }
}
