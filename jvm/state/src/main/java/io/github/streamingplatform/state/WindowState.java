package io.github.streamingplatform.state;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.streaming.ValueState;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.collection.Iterator;

/**
 * Keyed by {@code route}: for a window × category it adds the batch's partials (one per customer
 * at most) to the window's totals and emits the whole window; every other row passes through.
 * A window is dropped once the watermark has passed its end (checked each minute by a
 * processing-time timer): no event can then count in it.
 */
public final class WindowState extends StatefulProcessor<String, Row, Row> {
  private static final StructType SCHEMA =
      new StructType()
          .add("by_type", DataTypes.createArrayType(DataTypes.LongType, false), false)
          .add("units", DataTypes.LongType, false)
          .add("purchase_cents", DataTypes.LongType, false)
          .add("refund_cents", DataTypes.LongType, false)
          .add("customers", DataTypes.LongType, false)
          .add("sweep_timer", DataTypes.LongType, false); // the timer that drops the window (0: none)

  private final long windowMs;
  private final int types;
  private transient ValueState<Row> totals;

  public WindowState(long windowMs, int types) {
    this.windowMs = windowMs;
    this.types = types;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    totals = getHandle().getValueState("totals", Encoders.row(SCHEMA), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(String route, Iterator<Row> rows, TimerValues timers) {
    List<Row> out = new ArrayList<>();
    Row first = null;
    long[] byType = null;
    long units = 0, purchase = 0, refund = 0, customers = 0, kafkaMs = 0, sweepTimer = 0;
    while (rows.hasNext()) {
      Row r = rows.next();
      if (r.getByte(1) != Rows.WINDOW) {
        out.add(r);
        continue;
      }
      if (first == null) {
        first = r;
        if (totals.exists()) {
          Row t = totals.get();
          byType = Rows.unboxed(t.getList(0), types);
          units = t.getLong(1);
          purchase = t.getLong(2);
          refund = t.getLong(3);
          customers = t.getLong(4);
          sweepTimer = t.getLong(5);
        } else {
          byType = new long[types];
        }
      }
      long[] add = Rows.unboxed(r.getList(4), types);
      for (int i = 0; i < types; i++) byType[i] += add[i];
      units += r.getLong(5);
      purchase += r.getLong(6);
      refund += r.getLong(7);
      customers += r.getLong(8);
      kafkaMs = Math.max(kafkaMs, r.getLong(11));
    }
    if (first != null) {
      if (sweepTimer == 0) {
        long now = timers.getCurrentProcessingTimeInMs();
        sweepTimer = Rows.nextSweep(now);
        getHandle().registerTimer(sweepTimer);
      }
      totals.update(RowFactory.create(Rows.boxed(byType), units, purchase, refund, customers, sweepTimer));
      out.add(Rows.window(route, first.getLong(2), first.getByte(3), byType, units, purchase, refund, customers,
          kafkaMs));
    }
    return Rows.iterator(out);
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String route, TimerValues timers, ExpiredTimerInfo info) {
    long start = Long.parseLong(route.split("\\|")[1]);
    if (start + windowMs <= timers.getCurrentWatermarkInMs()) {
      totals.clear();
    } else if (totals.exists()) {
      Row t = totals.get();
      long now = timers.getCurrentProcessingTimeInMs();
      long next = Rows.nextSweep(now);
      getHandle().registerTimer(next);
      totals.update(RowFactory.create(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), next));
    }
    return Rows.iterator(List.of());
  }
}
