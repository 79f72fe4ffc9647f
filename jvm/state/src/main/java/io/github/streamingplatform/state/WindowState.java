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
 * Late events routed here pass through too, and add to their window's {@code late} count while
 * the window is kept: from the watermark passing its end for {@code lateRetentionMs} more (checked
 * on input and each minute by a processing-time timer). A window never counted, or no longer
 * kept, is not created by its late events: they are only kept in the quarantine.
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
  private final long lateRetentionMs;
  private final int types;
  private transient ValueState<Row> totals;
  private transient ValueState<Long> late; // events that arrived after the watermark had passed them

  public WindowState(long windowMs, long lateRetentionMs, int types) {
    this.windowMs = windowMs;
    this.lateRetentionMs = lateRetentionMs;
    this.types = types;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    totals = getHandle().getValueState("totals", Encoders.row(SCHEMA), TTLConfig.NONE());
    late = getHandle().getValueState("late", Encoders.LONG(), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(String route, Iterator<Row> rows, TimerValues timers) {
    List<Row> out = new ArrayList<>();
    Row window = null; // any row of this window (its start and category)
    long[] add = new long[types + 4]; // the batch's partials: by type…, units, cents, refunds, customers
    long kafkaMs = 0, lateRows = 0;
    boolean partials = false;
    while (rows.hasNext()) {
      Row r = rows.next();
      byte kind = r.getByte(1);
      if (kind == Rows.LATE) {
        lateRows++;
        window = r;
        out.add(r);
      } else if (kind == Rows.WINDOW) {
        partials = true;
        window = r;
        long[] byType = Rows.unboxed(r.getList(4), types);
        for (int i = 0; i < types; i++) add[i] += byType[i];
        add[types] += r.getLong(5);
        add[types + 1] += r.getLong(6);
        add[types + 2] += r.getLong(7);
        add[types + 3] += r.getLong(8);
        kafkaMs = Math.max(kafkaMs, r.getLong(11));
      } else {
        out.add(r);
      }
    }
    if (window == null) return Rows.iterator(out);
    long start = window.getLong(2);
    if (!kept(start, timers.getCurrentWatermarkInMs())) {
      clear(); // only late rows get here: an on-time event's window is still open
      return Rows.iterator(out);
    }
    if (!partials && !totals.exists()) return Rows.iterator(out);
    long[] sum = totals.exists() ? unpack(totals.get()) : new long[types + 5];
    for (int i = 0; i < types + 4; i++) sum[i] += add[i];
    long sweepTimer = sum[types + 4];
    if (sweepTimer == 0) {
      sweepTimer = Rows.nextSweep(timers.getCurrentProcessingTimeInMs());
      getHandle().registerTimer(sweepTimer);
    }
    long lateCount = (late.exists() ? late.get() : 0) + lateRows;
    totals.update(RowFactory.create(Rows.boxed(java.util.Arrays.copyOf(sum, types)), sum[types], sum[types + 1],
        sum[types + 2], sum[types + 3], sweepTimer));
    if (lateCount > 0) late.update(lateCount);
    out.add(Rows.window(route, start, window.getString(3), java.util.Arrays.copyOf(sum, types), sum[types],
        sum[types + 1], sum[types + 2], sum[types + 3], kafkaMs, lateCount));
    return Rows.iterator(out);
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String route, TimerValues timers, ExpiredTimerInfo info) {
    long start = Rows.routeStart(route);
    if (!kept(start, timers.getCurrentWatermarkInMs())) {
      clear();
    } else if (totals.exists()) {
      Row t = totals.get();
      long next = Rows.nextSweep(timers.getCurrentProcessingTimeInMs());
      getHandle().registerTimer(next);
      totals.update(RowFactory.create(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), next));
    }
    return Rows.iterator(List.of());
  }

  /** Whether the window is still kept: open, or closed less than the late retention ago. */
  private boolean kept(long start, long watermark) {
    return start + windowMs + lateRetentionMs > watermark;
  }

  private void clear() {
    totals.clear();
    late.clear();
  }

  /** The stored totals as by type…, units, purchase cents, refund cents, customers, sweep timer. */
  private long[] unpack(Row t) {
    long[] out = java.util.Arrays.copyOf(Rows.unboxed(t.getList(0), types), types + 5);
    for (int i = 1; i <= 5; i++) out[types + i - 1] = t.getLong(i);
    return out;
  }
}
