package io.github.streamingplatform.state;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
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
 * Keyed by customer: the customer's summary, the ids of its events still within the watermark
 * (dedup: an event whose id its customer had accepted before, earlier in the batch in (partition,
 * offset) order or with an event time at or after the watermark), and the windows × categories
 * it has been counted in (distinct customers, exact).
 *
 * <p>The state store is read and written per customer and batch, not per event: one summary,
 * the ids in one entry per minute of event time ({@link SeenIds}), the categories in one entry
 * per window. What is done per event happens in memory.
 *
 * <p>Per batch and customer it emits: one partial per window × category its accepted, on-time
 * events fall in; one row per duplicate and per late event (a late one routed to its window); its
 * whole document when due ({@code writeIntervalMs} apart at most once, held by a processing-time timer in between).
 * Processing time only schedules: what is a duplicate or late is judged against the event-time
 * watermark of the batch ({@link TimerValues#getCurrentWatermarkInMs}), which in this time mode
 * also leaves late rows to the processor instead of dropping them.
 */
public final class CustomerState extends StatefulProcessor<Row, Row, Row> {

  private final long windowMs;
  private final long writeIntervalMs;
  private final int types;
  private final int purchase;
  private final int refund;
  private transient ValueState<Row> summary;
  private transient MapState<Long, byte[]> seen; // minute of event time → its ids (SeenIds)
  private transient MapState<Long, Row> windows; // window start → the categories counted in it

  private static final StructType CATEGORIES =
      new StructType().add("categories", DataTypes.createArrayType(DataTypes.StringType, false), false);

  public CustomerState(long windowMs, long writeIntervalMs, int types, int purchase, int refund) {
    this.windowMs = windowMs;
    this.writeIntervalMs = writeIntervalMs;
    this.types = types;
    this.purchase = purchase;
    this.refund = refund;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    summary = getHandle().getValueState("summary", Encoders.row(Customer.SCHEMA), TTLConfig.NONE());
    seen = getHandle().getMapState("seen", Encoders.LONG(), Encoders.BINARY(), TTLConfig.NONE());
    windows = getHandle().getMapState("windows", Encoders.LONG(), Encoders.row(CATEGORIES), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(Row key, Iterator<Row> rows, TimerValues timers) {
    String id = key.getString(1);
    long watermark = timers.getCurrentWatermarkInMs();
    long now = timers.getCurrentProcessingTimeInMs();
    Row saved = summary.get(); // null for a new customer (one read, not exists() and get())
    Customer c = saved != null ? Customer.fromRow(saved, types) : new Customer(types);
    SeenIds ids = new SeenIds(seen, watermark);
    Set<Long> inBatch = new HashSet<>();
    Map<Long, Map<String, long[]>> partials = new HashMap<>(); // start → category → by type…, units, cents, refunds
    List<Row> out = new ArrayList<>();
    long kafkaMs = 0;
    for (Row e : Rows.sortedByPosition(rows)) {
      long eventKey = e.getLong(Rows.Input.EVENT_KEY);
      long ms = e.getLong(Rows.Input.EVENT_MS);
      if (inBatch.contains(eventKey) || ids.seenAt(eventKey) >= watermark) {
        out.add(Rows.event(Rows.DUPLICATE, e, id, windowMs));
        continue;
      }
      inBatch.add(eventKey);
      c.add(e, purchase, refund);
      c.dirty = true;
      if (ms < watermark) {
        out.add(Rows.event(Rows.LATE, e, id, windowMs));
        continue;
      }
      ids.add(eventKey, ms);
      kafkaMs = Math.max(kafkaMs, e.getLong(Rows.Input.KAFKA_MS));
      long start = ms - Math.floorMod(ms, windowMs);
      long[] p = partials.computeIfAbsent(start, k -> new HashMap<>())
          .computeIfAbsent(e.getString(Rows.Input.CATEGORY), k -> new long[types + 3]);
      int type = e.getByte(Rows.Input.TYPE);
      p[type]++;
      if (type == purchase) {
        p[types] += e.getInt(Rows.Input.QUANTITY);
        p[types + 1] += e.getLong(Rows.Input.CENTS);
      } else if (type == refund) {
        p[types + 2] += e.getLong(Rows.Input.CENTS);
      }
    }
    long windowsEnd = Long.MIN_VALUE;
    for (Map.Entry<Long, Map<String, long[]>> w : partials.entrySet()) {
      long start = w.getKey();
      windowsEnd = Math.max(windowsEnd, start + windowMs);
      Set<String> counted = countedIn(start);
      boolean added = false;
      for (Map.Entry<String, long[]> cat : w.getValue().entrySet()) {
        long[] p = cat.getValue();
        boolean isNew = counted.add(cat.getKey()); // a customer new to the window × category
        added |= isNew;
        out.add(Rows.window(Rows.windowRoute(start, cat.getKey()), start, cat.getKey(), Arrays.copyOf(p, types),
            p[types], p[types + 1], p[types + 2], isNew ? 1 : 0, kafkaMs, 0));
      }
      if (added) windows.updateValue(start, RowFactory.create((Object) counted.toArray(new String[0])));
    }
    ids.flush();
    emitIfDue(id, c, now, out);
    if (c.sweepTimer == 0) scheduleSweep(c, now, watermark, Math.max(ids.horizon(), windowsEnd));
    summary.update(c.toRow());
    return Rows.iterator(out);
  }

  @Override
  public Iterator<Row> handleExpiredTimer(Row key, TimerValues timers, ExpiredTimerInfo info) {
    String id = key.getString(1);
    long watermark = timers.getCurrentWatermarkInMs();
    long now = timers.getCurrentProcessingTimeInMs();
    long fired = info.getExpiryTimeInMs();
    List<Row> out = new ArrayList<>();
    Row saved = summary.get();
    if (saved == null) return Rows.iterator(out);
    Customer c = Customer.fromRow(saved, types);
    if (fired == c.writeTimer) {
      c.writeTimer = 0;
      emitIfDue(id, c, now, out);
    }
    if (fired == c.sweepTimer) {
      c.sweepTimer = 0;
      scheduleSweep(c, now, watermark, sweep(watermark));
    }
    summary.update(c.toRow());
    return Rows.iterator(out);
  }

  /** The categories this customer has been counted in within a window. */
  private Set<String> countedIn(long start) {
    Row r = windows.getValue(start);
    return r == null ? new HashSet<>() : new HashSet<>(r.<String>getList(0));
  }

  /** The document when its turn has come, else a timer for when it will. */
  private void emitIfDue(String id, Customer c, long now, List<Row> out) {
    if (!c.dirty) return;
    if (now >= c.nextWrite) {
      out.add(c.document(id));
      c.dirty = false;
      c.nextWrite = now + writeIntervalMs;
    } else if (c.writeTimer != c.nextWrite) {
      c.writeTimer = c.nextWrite;
      getHandle().registerTimer(c.writeTimer);
    }
  }

  /**
   * A sweep for when the watermark may have passed the state's horizon (event time): none if
   * nothing is left. Processing time stands in for the watermark's progress.
   */
  private void scheduleSweep(Customer c, long now, long watermark, long horizon) {
    if (horizon <= watermark) return;
    c.sweepTimer = Rows.nextSweep(now + Math.min(horizon - watermark, Rows.SWEEP_MAX_WAIT_MS));
    getHandle().registerTimer(c.sweepTimer);
  }

  /**
   * Drops the ids and windows the watermark has passed; returns the event time until which the
   * rest lives (at most the watermark if nothing is left). A customer that keeps sending is so
   * swept about once a watermark delay, not once a minute.
   */
  private long sweep(long watermark) {
    return Math.max(dropPassed(seen, SeenIds.BUCKET_MS, watermark), dropPassed(windows, windowMs, watermark));
  }

  /**
   * Drops the entries keyed by a start time whose span the watermark has wholly passed; returns
   * the end of the last one left (or the watermark).
   */
  private static long dropPassed(MapState<Long, ?> entries, long span, long watermark) {
    long horizon = watermark;
    List<Long> passed = new ArrayList<>();
    Iterator<Long> starts = entries.keys();
    while (starts.hasNext()) {
      long start = starts.next();
      if (start + span <= watermark) passed.add(start);
      else horizon = Math.max(horizon, start + span);
    }
    passed.forEach(entries::removeKey);
    return horizon;
  }
}
