package io.github.streamingplatform.state;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructType;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;

/** The row shapes the stateful steps exchange (one wide row, a kind per use). */
final class Rows {
  private Rows() {}

  static final byte WINDOW = 0; // a window × category: partial (into WindowState) or whole (out of it)
  static final byte LATE = 1; // an event older than the watermark (counted for its customer; its window's late_events)
  static final byte DUPLICATE = 2; // an event whose id its customer had accepted before (quarantined)
  static final byte CUSTOMER = 3; // a customer's whole summary

  /**
   * CustomerState's key: the customer, after a hash of its id so that Spark's sort by key compares
   * 8-byte prefixes that differ (ids such as "cust_000123" share their first 8 bytes).
   */
  static final StructType CUSTOMER_KEY =
      new StructType().add("customer_hash", DataTypes.LongType, false).add("customer_id", DataTypes.StringType, false);

  /** Counts by name (a customer's by category). */
  static final MapType COUNTS = DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType, false);

  /** Output of CustomerState = input and output of WindowState. */
  static final StructType OUT =
      new StructType()
          .add("route", DataTypes.StringType, false) // WindowState's key
          .add("kind", DataTypes.ByteType, false)
          .add("window_start", DataTypes.LongType)
          .add("category", DataTypes.StringType)
          .add("by_type", DataTypes.createArrayType(DataTypes.LongType, false))
          .add("units", DataTypes.LongType)
          .add("purchase_cents", DataTypes.LongType)
          .add("refund_cents", DataTypes.LongType)
          .add("customers", DataTypes.LongType) // distinct customers (a partial: 1 if new)
          .add("partition", DataTypes.IntegerType)
          .add("offset", DataTypes.LongType)
          .add("kafka_ms", DataTypes.LongType)
          .add("customer_id", DataTypes.StringType)
          .add("first_seen", DataTypes.LongType)
          .add("last_seen", DataTypes.LongType)
          .add("last_location", DataTypes.StringType)
          .add("by_category", COUNTS)
          .add("late", DataTypes.LongType); // a window's late events (whole windows only)

  static Row window(String route, long start, String category, long[] byType, long units,
      long purchase, long refund, long customers, long kafkaMs, long late) {
    return RowFactory.create(route, WINDOW, start, category, boxed(byType), units, purchase, refund,
        customers, null, null, kafkaMs, null, null, null, null, null, late);
  }

  /** The route of a window × category (WindowState's key). */
  static String windowRoute(long start, String category) {
    return "w|" + start + "|" + category;
  }

  /** The window start of a route (the category after it may hold any character). */
  static long routeStart(String route) {
    return Long.parseLong(route.substring(2, route.indexOf('|', 2)));
  }

  /** A duplicate (routed by partition: it passes WindowState) or a late event (routed to its window). */
  static Row event(byte kind, Row in, String customer, long windowMs) {
    long ms = in.getLong(Input.EVENT_MS);
    long start = ms - Math.floorMod(ms, windowMs);
    String category = in.getString(Input.CATEGORY);
    String route = kind == LATE ? windowRoute(start, category) : kind + "|" + in.getInt(Input.PARTITION);
    return RowFactory.create(route, kind, start, category, null, null, null, null, null,
        in.getInt(Input.PARTITION), in.getLong(Input.OFFSET), in.getLong(Input.KAFKA_MS), customer, ms, null,
        null, null, null);
  }

  static final long SWEEP_MS = 60_000; // how often expired ids and windows are looked for, at most
  static final long SWEEP_MAX_WAIT_MS = 3_600_000; // and at least (a watermark far behind the state)

  /** The next sweep timer: the next minute boundary (one timer a key a minute at most). */
  static long nextSweep(long now) {
    return now - Math.floorMod(now, SWEEP_MS) + SWEEP_MS;
  }

  static Long[] boxed(long[] values) {
    return Arrays.stream(values).boxed().toArray(Long[]::new);
  }

  /** A map as the row encoders take it (a Scala map). */
  static scala.collection.Map<String, Long> scalaMap(Map<String, Long> values) {
    return CollectionConverters.asScala(values);
  }

  static long[] unboxed(List<Long> values, int n) {
    long[] out = new long[n];
    for (int i = 0; i < values.size() && i < n; i++) out[i] = values.get(i);
    return out;
  }

  static Iterator<Row> iterator(List<Row> rows) {
    return CollectionConverters.asScala(rows.iterator());
  }

  static List<Row> sortedByPosition(Iterator<Row> rows) {
    List<Row> list = new ArrayList<>();
    rows.foreach(list::add);
    list.sort((a, b) -> a.getInt(Input.PARTITION) != b.getInt(Input.PARTITION)
        ? Integer.compare(a.getInt(Input.PARTITION), b.getInt(Input.PARTITION))
        : Long.compare(a.getLong(Input.OFFSET), b.getLong(Input.OFFSET)));
    return list;
  }

  /** The valid events, as the parse step emits them (column positions). */
  static final class Input {
    private Input() {}

    static final StructType SCHEMA =
        new StructType()
            .add("partition", DataTypes.IntegerType, false)
            .add("offset", DataTypes.LongType, false)
            .add("kafka_ms", DataTypes.LongType, false)
            .add("event_key", DataTypes.LongType, false)
            .add("event_ms", DataTypes.LongType, false)
            .add("customer_id", DataTypes.StringType, false)
            .add("event_type", DataTypes.ByteType, false)
            .add("category", DataTypes.StringType, false)
            .add("amount_cents", DataTypes.LongType, false)
            .add("quantity", DataTypes.IntegerType, false)
            .add("location", DataTypes.StringType, false);
    static final int PARTITION = 0, OFFSET = 1, KAFKA_MS = 2, EVENT_KEY = 3, EVENT_MS = 4,
        CUSTOMER = 5, TYPE = 6, CATEGORY = 7, CENTS = 8, QUANTITY = 9, LOCATION = 10;
  }

}
