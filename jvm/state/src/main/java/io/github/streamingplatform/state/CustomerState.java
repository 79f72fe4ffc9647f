package io.github.streamingplatform.state;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.streaming.ValueState;
import scala.collection.Iterator;

/**
 * Keyed by customer: the customer's summary, the ids of its events still within the watermark
 * (dedup: an event whose id its customer had accepted before, earlier in the batch in (partition,
 * offset) order or with an event time at or after the watermark), and the windows × categories
 * it has been counted in (distinct customers, exact).
 *
 * <p>Per batch and customer it emits: one partial per window × category its accepted, on-time
 * events fall in; one row per duplicate and per late event (a late one routed to its window); its whole document when due
 * ({@code writeIntervalMs} apart at most once, held by a processing-time timer in between).
 * Processing time only schedules: what is a duplicate or late is judged against the event-time
 * watermark of the batch ({@link TimerValues#getCurrentWatermarkInMs}), which in this time mode
 * also leaves late rows to the processor instead of dropping them.
 */
public final class CustomerState extends StatefulProcessor<String, Row, Row> {

  private final long windowMs;
  private final long writeIntervalMs;
  private final int types;
  private final int purchase;
  private final int refund;
  private transient ValueState<Row> summary;
  private transient MapState<Long, Long> seen; // event-id hash → its event time
  private transient MapState<String, Boolean> windows; // window × category, by its route

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
    seen = getHandle().getMapState("seen", Encoders.LONG(), Encoders.LONG(), TTLConfig.NONE());
    windows = getHandle().getMapState("windows", Encoders.STRING(), Encoders.BOOLEAN(), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(String id, Iterator<Row> rows, TimerValues timers) {
    long watermark = timers.getCurrentWatermarkInMs();
    long now = timers.getCurrentProcessingTimeInMs();
    Customer c = summary.exists() ? Customer.fromRow(summary.get(), types) : new Customer(types);
    Set<Long> inBatch = new HashSet<>();
    Map<String, long[]> partials = new HashMap<>(); // route → by type…, units, cents, refunds, new
    List<Row> out = new ArrayList<>();
    long kafkaMs = 0;
    for (Row e : Rows.sortedByPosition(rows)) {
      long key = e.getLong(Rows.Input.EVENT_KEY);
      long ms = e.getLong(Rows.Input.EVENT_MS);
      Long seenAt = inBatch.contains(key) ? null : seen.getValue(key); // one lookup: null if unseen
      if (inBatch.contains(key) || (seenAt != null && seenAt >= watermark)) {
        out.add(Rows.event(Rows.DUPLICATE, e, id, windowMs));
        continue;
      }
      inBatch.add(key);
      c.add(e, purchase, refund);
      c.dirty = true;
      if (ms < watermark) {
        out.add(Rows.event(Rows.LATE, e, id, windowMs));
        continue;
      }
      seen.updateValue(key, ms);
      kafkaMs = Math.max(kafkaMs, e.getLong(Rows.Input.KAFKA_MS));
      long start = ms - Math.floorMod(ms, windowMs);
      String window = Rows.windowRoute(start, e.getString(Rows.Input.CATEGORY));
      long[] p = partials.computeIfAbsent(window, w -> new long[types + 4]);
      int type = e.getByte(Rows.Input.TYPE);
      p[type]++;
      if (type == purchase) {
        p[types] += e.getInt(Rows.Input.QUANTITY);
        p[types + 1] += e.getLong(Rows.Input.CENTS);
      } else if (type == refund) {
        p[types + 2] += e.getLong(Rows.Input.CENTS);
      }
      if (p[types + 3] == 0 && !windows.containsKey(window)) {
        windows.updateValue(window, true);
        p[types + 3] = 1;
      }
    }
    for (Map.Entry<String, long[]> w : partials.entrySet()) {
      String route = w.getKey();
      long[] p = w.getValue();
      long[] byType = java.util.Arrays.copyOf(p, types);
      out.add(Rows.window(route, Rows.routeStart(route), Rows.routeCategory(route), byType, p[types], p[types + 1],
          p[types + 2], p[types + 3], kafkaMs, 0));
    }
    emitIfDue(id, c, now, out);
    if (c.sweepTimer == 0) {
      c.sweepTimer = Rows.nextSweep(now);
      getHandle().registerTimer(c.sweepTimer);
    }
    summary.update(c.toRow());
    return Rows.iterator(out);
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String id, TimerValues timers, ExpiredTimerInfo info) {
    long watermark = timers.getCurrentWatermarkInMs();
    long now = timers.getCurrentProcessingTimeInMs();
    long fired = info.getExpiryTimeInMs();
    List<Row> out = new ArrayList<>();
    if (!summary.exists()) return Rows.iterator(out);
    Customer c = Customer.fromRow(summary.get(), types);
    if (fired == c.writeTimer) {
      c.writeTimer = 0;
      emitIfDue(id, c, now, out);
    }
    if (fired == c.sweepTimer) {
      c.sweepTimer = 0;
      if (sweep(watermark)) {
        c.sweepTimer = Rows.nextSweep(now);
        getHandle().registerTimer(c.sweepTimer);
      }
    }
    summary.update(c.toRow());
    return Rows.iterator(out);
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

  /** Drops the ids and windows the watermark has passed; true if some are left. */
  private boolean sweep(long watermark) {
    boolean left = false;
    List<Long> gone = new ArrayList<>();
    Iterator<scala.Tuple2<Long, Long>> ids = seen.iterator();
    while (ids.hasNext()) {
      scala.Tuple2<Long, Long> kv = ids.next();
      if (kv._2() < watermark) gone.add(kv._1());
      else left = true;
    }
    gone.forEach(seen::removeKey);
    List<String> closed = new ArrayList<>();
    Iterator<String> ws = windows.keys();
    while (ws.hasNext()) {
      String w = ws.next();
      if (Rows.routeStart(w) + windowMs <= watermark) closed.add(w);
      else left = true;
    }
    closed.forEach(windows::removeKey);
    return left;
  }
}
