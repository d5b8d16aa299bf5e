package vigil.bench;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.Stores;

/**
 * The Handbook pipeline in Kafka Streams: transactions keyed by customer → customer windows →
 * repartition by terminal → merged with the labels (keyed by terminal) → terminal windows and the
 * score → the decisions topic. Exactly-once v2, RocksDB stores with changelogs. Runs until SIGTERM.
 *
 * usage: Peer BOOTSTRAP TX_TOPIC LABELS_TOPIC OUT_TOPIC APP_ID STATE_DIR MODEL_JSON PARTITIONS
 *             THREADS COMMIT_MS GUARANTEE(exactly_once_v2|at_least_once)
 */
public final class Peer {
  /** Event time from a top-level integer field of the JSON value, without parsing the whole value. */
  static TimestampExtractor field(String name) {
    String needle = "\"" + name + "\":";
    return (ConsumerRecord<Object, Object> r, long partitionTime) -> {
      String v = (String) r.value();
      int i = v == null ? -1 : v.indexOf(needle);
      if (i < 0) return r.timestamp();
      int j = i + needle.length();
      int k = j;
      while (k < v.length() && (Character.isDigit(v.charAt(k)) || v.charAt(k) == '-')) k++;
      return Long.parseLong(v, j, k, 10);
    };
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 11) {
      System.err.println("usage: Peer BOOTSTRAP TX LABELS OUT APP_ID STATE_DIR MODEL PARTITIONS THREADS COMMIT_MS GUARANTEE");
      System.exit(2);
    }
    String tx = args[1], labels = args[2], out = args[3];
    Forest forest = Forest.load(args[6]);
    int partitions = Integer.parseInt(args[7]);

    StreamsBuilder b = new StreamsBuilder();
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(CustomerWindows.STORE),
        Serdes.String(), Serdes.ByteArray()));
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(TerminalWindows.STORE),
        Serdes.String(), Serdes.ByteArray()));

    KStream<String, String> byTerminal = b
        .stream(tx, Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(field("TX_TIME_MS")))
        .process(CustomerWindows::new, CustomerWindows.STORE)
        .repartition(Repartitioned.with(Serdes.String(), Serdes.String()).withName("by-terminal")
            .withNumberOfPartitions(partitions));
    KStream<String, String> labelStream = b
        .stream(labels, Consumed.with(Serdes.String(), Serdes.String()).withTimestampExtractor(field("LABEL_TIME_MS")))
        .mapValues(Peer::labelRecord);
    byTerminal.merge(labelStream)
        .process(() -> new TerminalWindows(forest, 0.5), TerminalWindows.STORE)
        .to(out, Produced.with(Serdes.String(), Serdes.String()));

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[4]);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(StreamsConfig.STATE_DIR_CONFIG, args[5]);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args[8]));
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(args[9]));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[10]);
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      done.countDown();
    }));
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_APPLICATION;
    });
    streams.start();
    done.await();
  }

  /** A label record {"TRANSACTION_ID":..,"TX_FRAUD":..,"LABEL_TIME_MS":..} as "L|id|labelTime|fraud". */
  static String labelRecord(String json) {
    return "L|" + number(json, "TRANSACTION_ID") + "|" + number(json, "LABEL_TIME_MS") + "|"
        + number(json, "TX_FRAUD");
  }

  private static String number(String json, String name) {
    String needle = "\"" + name + "\":";
    int j = json.indexOf(needle) + needle.length();
    int k = j;
    while (k < json.length() && "-0123456789.eE+".indexOf(json.charAt(k)) >= 0) k++;
    return json.substring(j, k);
  }
}
