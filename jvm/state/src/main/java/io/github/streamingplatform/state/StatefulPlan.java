package io.github.streamingplatform.state;

import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.TimeMode;

/** The stateful steps of the stream, for PySpark (called through py4j with the valid events). */
public final class StatefulPlan {
  private StatefulPlan() {}

  /** Valid events (see {@link Rows.Input}) → customers, window partials, duplicates, late events. */
  public static Dataset<Row> customers(Dataset<Row> events, long windowMs, long writeIntervalMs, int types,
      int purchase, int refund) {
    return events
        .select(Rows.Input.SCHEMA.fieldNames()[0], java.util.Arrays.copyOfRange(Rows.Input.SCHEMA.fieldNames(), 1,
            Rows.Input.SCHEMA.size()))
        .selectExpr("*", "xxhash64(customer_id) AS customer_hash")
        .groupBy("customer_hash", "customer_id")
        .as(Encoders.row(Rows.CUSTOMER_KEY), Encoders.row(Rows.Input.SCHEMA.add("customer_hash", DataTypes.LongType, false)))
        .transformWithState(new CustomerState(windowMs, writeIntervalMs, types, purchase, refund),
            TimeMode.ProcessingTime(), OutputMode.Append(), Encoders.row(Rows.OUT));
  }

  /** The rows of {@link #customers} → whole windows in place of their partials. */
  public static Dataset<Row> windows(Dataset<Row> rows, long windowMs, long lateRetentionMs, int types) {
    return rows
        .groupByKey((MapFunction<Row, String>) r -> r.getString(0), Encoders.STRING())
        .transformWithState(new WindowState(windowMs, lateRetentionMs, types), TimeMode.ProcessingTime(), OutputMode.Append(),
            Encoders.row(Rows.OUT));
  }
}
