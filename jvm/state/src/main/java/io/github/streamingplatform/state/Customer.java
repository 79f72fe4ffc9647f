package io.github.streamingplatform.state;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** One customer's running summary: read from the state store once per batch, updated per event. */
final class Customer {
  static final StructType SCHEMA =
      new StructType()
          .add("by_type", DataTypes.createArrayType(DataTypes.LongType, false), false)
          .add("spend", DataTypes.LongType, false)
          .add("refund", DataTypes.LongType, false)
          .add("first", DataTypes.LongType, false)
          .add("last", DataTypes.LongType, false)
          .add("location", DataTypes.StringType, false)
          .add("by_category", Rows.COUNTS, false) // by name: the contract's order does not matter
          .add("next_write", DataTypes.LongType, false) // processing time its document is due
          .add("dirty", DataTypes.BooleanType, false) // changed since its document was emitted
          .add("write_timer", DataTypes.LongType, false) // the timer registered for next_write (0: none)
          .add("sweep_timer", DataTypes.LongType, false); // the timer that drops expired ids (0: none)

  final long[] byType;
  long spend;
  long refund;
  long first = Long.MAX_VALUE;
  long last = Long.MIN_VALUE;
  String location = "";
  final Map<String, Long> byCategory = new HashMap<>();
  long nextWrite;
  boolean dirty;
  long writeTimer;
  long sweepTimer;

  Customer(int types) {
    byType = new long[types];
  }

  static Customer fromRow(Row r, int types) {
    Customer c = new Customer(types);
    long[] t = Rows.unboxed(r.getList(0), types);
    System.arraycopy(t, 0, c.byType, 0, types);
    c.spend = r.getLong(1);
    c.refund = r.getLong(2);
    c.first = r.getLong(3);
    c.last = r.getLong(4);
    c.location = r.getString(5);
    c.byCategory.putAll(r.<String, Long>getJavaMap(6));
    c.nextWrite = r.getLong(7);
    c.dirty = r.getBoolean(8);
    c.writeTimer = r.getLong(9);
    c.sweepTimer = r.getLong(10);
    return c;
  }

  Row toRow() {
    return RowFactory.create(
        Rows.boxed(byType), spend, refund, first, last, location, Rows.scalaMap(byCategory), nextWrite, dirty,
        writeTimer, sweepTimer);
  }

  /** Adds one accepted event (rows come in (partition, offset) order: ties go to the later one). */
  void add(Row e, int purchase, int refundType) {
    int type = e.getByte(Rows.Input.TYPE);
    byType[type]++;
    long cents = e.getLong(Rows.Input.CENTS);
    if (type == purchase) spend += cents;
    else if (type == refundType) refund += cents;
    long ms = e.getLong(Rows.Input.EVENT_MS);
    first = Math.min(first, ms);
    if (ms >= last) {
      last = ms;
      location = e.getString(Rows.Input.LOCATION);
    }
    byCategory.merge(e.getString(Rows.Input.CATEGORY), 1L, Long::sum);
  }

  /** The customer's whole document, as a row of {@link Rows#OUT}. */
  Row document(String id) {
    return RowFactory.create("c|" + id, Rows.CUSTOMER, null, null, Rows.boxed(byType), null, spend, refund,
        null, null, null, null, id, first, last, location, Rows.scalaMap(byCategory), null);
  }
}
