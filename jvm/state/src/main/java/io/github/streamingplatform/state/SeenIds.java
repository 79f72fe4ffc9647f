package io.github.streamingplatform.state;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.streaming.MapState;
import scala.Tuple2;
import scala.collection.Iterator;

/**
 * One customer's accepted event ids still within the watermark, in a few large state entries:
 * one per minute of the events' own time, each the minute's id hashes sorted with their event
 * times. A batch reads the customer's entries once and writes back only the minutes it added
 * to, so the state store sees a handful of reads and writes per customer and batch, not two per
 * event; a lookup is a binary search per live minute.
 */
final class SeenIds {
  static final long BUCKET_MS = 60_000;

  private final MapState<Long, byte[]> store;
  private final Map<Long, long[][]> buckets = new HashMap<>(); // minute → {sorted hashes, their event times}
  private final Map<Long, List<long[]>> added = new HashMap<>(); // minute → new {hash, event time}

  /** The customer's live minutes (minutes the watermark has wholly passed are dropped). */
  SeenIds(MapState<Long, byte[]> store, long watermark) {
    this.store = store;
    List<Long> expired = new ArrayList<>();
    Iterator<Tuple2<Long, byte[]>> it = store.iterator();
    while (it.hasNext()) {
      Tuple2<Long, byte[]> kv = it.next();
      if (kv._1() + BUCKET_MS <= watermark) expired.add(kv._1());
      else buckets.put(kv._1(), decode(kv._2()));
    }
    expired.forEach(store::removeKey);
  }

  /** The event time an id was accepted with, or {@code Long.MIN_VALUE} if it was not (live minutes only). */
  long seenAt(long key) {
    long at = Long.MIN_VALUE; // an id re-accepted after its time passed the watermark is in two minutes
    for (long[][] b : buckets.values()) {
      int i = Arrays.binarySearch(b[0], key);
      if (i >= 0) at = Math.max(at, b[1][i]);
    }
    return at;
  }

  void add(long key, long ms) {
    added.computeIfAbsent(ms - Math.floorMod(ms, BUCKET_MS), k -> new ArrayList<>()).add(new long[] {key, ms});
  }

  /** The end of the latest minute held (event time), {@code Long.MIN_VALUE} if none. */
  long horizon() {
    long end = Long.MIN_VALUE;
    for (long m : buckets.keySet()) end = Math.max(end, m + BUCKET_MS);
    for (long m : added.keySet()) end = Math.max(end, m + BUCKET_MS);
    return end;
  }

  /** Writes the minutes that gained ids. */
  void flush() {
    for (Map.Entry<Long, List<long[]>> e : added.entrySet()) {
      long[][] old = buckets.getOrDefault(e.getKey(), new long[][] {new long[0], new long[0]});
      store.updateValue(e.getKey(), encode(old, e.getValue()));
    }
  }

  /** The old entries and the new ones, one per hash (its latest time), sorted: n, n hashes, n times. */
  private static byte[] encode(long[][] old, List<long[]> fresh) {
    List<long[]> pairs = new ArrayList<>(old[0].length + fresh.size());
    for (int i = 0; i < old[0].length; i++) pairs.add(new long[] {old[0][i], old[1][i]});
    pairs.addAll(fresh);
    pairs.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(b[1], a[1]));
    List<long[]> unique = new ArrayList<>(pairs.size());
    for (long[] p : pairs) if (unique.isEmpty() || unique.get(unique.size() - 1)[0] != p[0]) unique.add(p);
    ByteBuffer buf = ByteBuffer.allocate(4 + 16 * unique.size()).putInt(unique.size());
    for (long[] p : unique) buf.putLong(p[0]);
    for (long[] p : unique) buf.putLong(p[1]);
    return buf.array();
  }

  private static long[][] decode(byte[] bytes) {
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    int n = buf.getInt();
    long[] keys = new long[n];
    long[] times = new long[n];
    buf.asLongBuffer().get(keys).get(times);
    return new long[][] {keys, times};
  }
}
