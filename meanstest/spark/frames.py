"""Bundle tables as Spark DataFrames, and each household co-located with its rows.

Types: the canonical Arrow types of meanstest.schema and their Spark counterparts.
Reading: Parquet files or folders (possibly partitioned by jurisdiction), checked by the
bundle reader's column rules. Co-location: one row per household key with its rows as
lists of structs (see meanstest.spark).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from meanstest import schema
from meanstest.errors import BundleError, MeansTestError
from meanstest.spark.layout import DUPLICATES, SLOTS, TAG, slots_of

# Arrow <-> Spark types ------------------------------------------------------------------


def spark_type(t: pa.DataType):
    from pyspark.sql import types as T

    simple = {
        pa.string(): T.StringType(),
        pa.int8(): T.ByteType(),
        pa.int16(): T.ShortType(),
        pa.int32(): T.IntegerType(),
        pa.int64(): T.LongType(),
        pa.bool_(): T.BooleanType(),
        pa.date32(): T.DateType(),
    }
    if t in simple:
        return simple[t]
    if pa.types.is_list(t):
        return T.ArrayType(spark_type(t.value_type))
    if pa.types.is_struct(t):
        return T.StructType([T.StructField(f.name, spark_type(f.type)) for f in t])
    raise TypeError(f"no Spark type for {t}")


def arrow_type(t) -> pa.DataType:
    """The Arrow type a Spark column's values have (for the bundle reader's checks)."""
    from pyspark.sql import types as T

    simple = {
        T.StringType: pa.string(),
        T.ByteType: pa.int8(),
        T.ShortType: pa.int16(),
        T.IntegerType: pa.int32(),
        T.LongType: pa.int64(),
        T.BooleanType: pa.bool_(),
        T.DateType: pa.date32(),
        T.NullType: pa.null(),
        T.DoubleType: pa.float64(),
        T.FloatType: pa.float32(),
        T.TimestampType: pa.timestamp("us", "UTC"),
        T.BinaryType: pa.binary(),
    }
    for cls, at in simple.items():
        if isinstance(t, cls):
            return at
    if isinstance(t, T.ArrayType):
        return pa.list_(arrow_type(t.elementType))
    if isinstance(t, T.DecimalType):
        return pa.decimal128(t.precision, t.scale)
    return pa.binary()  # anything else is incompatible with every canonical column


def spark_schema(s: pa.Schema):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type(f.type)) for f in s])


# Reading --------------------------------------------------------------------------------


class Storage:
    """A folder on the driver's file system, or behind a URI (hdfs://, s3a://, file:/…)
    through the Hadoop FileSystem of the Spark session, as a cluster's bundles are."""

    def __init__(self, spark, root) -> None:
        self.spark, self.root = spark, str(root).rstrip("/") or "/"
        self.remote = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", self.root) is not None

    def join(self, name: str) -> str:
        return f"{self.root}/{name}"

    def _hadoop(self, path: str):
        jvm = self.spark.sparkContext._jvm
        p = jvm.org.apache.hadoop.fs.Path(path)
        return p.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()), p

    def exists(self, path: str) -> bool:
        if not self.remote:
            return Path(path).exists()
        fs, p = self._hadoop(path)
        return bool(fs.exists(p))

    def is_dir(self, path: str) -> bool:
        if not self.remote:
            return Path(path).is_dir()
        fs, p = self._hadoop(path)
        return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory())

    def remove(self, path: str) -> None:
        if not self.remote:
            target = Path(path)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            return
        fs, p = self._hadoop(path)
        fs.delete(p, True)

    def write_text(self, path: str, text: str) -> None:
        """Written under a temporary name, then renamed into place."""
        if not self.remote:
            from meanstest.review import write_json_atomic

            write_json_atomic(Path(path), json.loads(text))
            return
        fs, p = self._hadoop(path + ".tmp")
        stream = fs.create(p, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        fs.delete(self._hadoop(path)[1], False)
        fs.rename(p, self._hadoop(path)[1])


def _table_path(store: Storage, name: str) -> str | None:
    candidates = (f"{name}.parquet", name, f"{name}.arrow")
    found = [store.join(c) for c in candidates if store.exists(store.join(c))]
    if len(found) > 1:
        a, b = (f.rsplit("/", 1)[1] for f in found[:2])
        raise BundleError(
            f"{found[0]}: table {name} is in the bundle twice ({a} and {b}); keep one",
            file=found[0],
        )
    return found[0] if found else None


def _canonical(df, name: str, file: str):
    """`df` with exactly the canonical columns (cast), checked like meanstest.bundle."""
    from pyspark.sql import functions as F

    from meanstest.bundle import _Plan  # the bundle reader's column rules, not a copy

    found = pa.schema([pa.field(f.name, arrow_type(f.dataType)) for f in df.schema])
    plan = _Plan.make(name, found, file)
    cols = []
    for col, src in zip(schema.TABLES[name], plan.sources, strict=True):
        value = F.col(f"`{src}`") if src is not None else F.lit(None)
        cols.append(value.cast(spark_type(col.type)).alias(col.name))
    return cols


def _read_parquet(spark, path: str, name: str):
    from pyspark.sql import functions as F

    conf = "spark.sql.sources.partitionColumnTypeInference.enabled"
    before = spark.conf.get(conf)
    spark.conf.set(conf, "false")  # jurisdiction=150422 is the string "150422"
    try:
        df = spark.read.parquet(str(path))
        cols = _canonical(df, name, str(path))
    except Exception as e:
        if isinstance(e, MeansTestError):
            raise
        raise BundleError(f"{path}: cannot read table {name}: {str(e).splitlines()[0]}") from e
    finally:
        spark.conf.set(conf, before)
    files = sorted(df.inputFiles())
    file_col, index = F.col("_metadata.file_path"), F.col("_metadata.row_index")
    if len(files) <= 1:
        return df.select(*cols, index.alias("_row"))
    counts = sorted(df.groupBy(file_col.alias("f")).count().collect(), key=lambda r: r.f)
    offsets, at = [], 0
    for r in counts:
        offsets += [F.lit(r.f), F.lit(at)]
        at += r["count"]
    return df.select(*cols, (F.create_map(*offsets)[file_col] + index).alias("_row"))


def _from_arrow(spark, table: pa.Table, name: str):
    from meanstest.bundle import conform

    table = conform(name, table)
    table = table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    return spark.createDataFrame(table, schema=spark_schema(table.schema))


def read_frames(spark, bundle) -> dict:
    """Every table of schema.TABLES as a DataFrame of canonical columns plus `_row`."""
    from meanstest.bundle import read_table

    if isinstance(bundle, dict):
        from meanstest.bundle import conform_tables

        tables = conform_tables(bundle)
        return {name: _from_arrow(spark, t, name) for name, t in tables.items()}
    store = Storage(spark, bundle)
    if not store.is_dir(store.root):
        raise BundleError(f"{store.root}: bundle folder not found", file=store.root)
    frames = {}
    for name in schema.TABLES:
        path = _table_path(store, name)
        if path is None and name == "households":
            raise BundleError(f"{store.root}: no households table (households.parquet or folder)")
        if path is None:
            frames[name] = _from_arrow(spark, schema.empty_table(name), name)
        elif path.endswith(".arrow"):  # IPC files are read on the driver (district size)
            if store.remote:
                raise BundleError(f"{path}: Arrow IPC tables must be local; write Parquet")
            frames[name] = _from_arrow(spark, read_table(path, name), name)
        else:
            frames[name] = _read_parquet(spark, path, name)
    return frames


# Co-location ----------------------------------------------------------------------------


def _packed(df, part: str, h):
    """`df`'s rows (canonical columns + `_row`) in the packed layout (meanstest.spark.
    layout), with `_h`, the hash that picks their partition."""
    from pyspark.sql import functions as F

    by_slot = {slot: name for name, slot in slots_of(part)}
    cols = [F.lit(TAG[part]).cast("byte").alias("_tag"), F.col("_row"), h.alias("_h")]
    for slot, typ in SLOTS:
        value = F.col(by_slot[slot]) if slot in by_slot else F.lit(None)
        cols.append(value.cast(spark_type(typ)).alias(slot))
    return df.select(*cols)


def co_locate(frames: dict, partitions: int):
    """Every row of the bundle in the partition of its household, as packed rows
    (meanstest.spark.layout): `partitions` partitions, each holding every row of its
    households and of their members' and supporters' records.

    A household's partition is the hash of its household_id (`_h`, Spark's hash
    partitioning). Households, members and supporters carry their household_id; a
    member or supporter whose household has no households row (an orphan) lands in a
    partition with no such household, where validate counts it. Source rows have only a
    person ID: one join with the members and supporters of households rows (`_people`,
    keys only) sends a copy to the partition of each of that person's households (two
    copies in one partition are one row to the worker); a row of nobody lands anywhere,
    where validate counts it unmatched. The DUPLICATE_PERSON list of the whole run
    (`_duplicates`) goes to the partitions of the duplicated persons' households."""
    from pyspark.sql import functions as F

    hh, persons, supporters = frames["households"], frames["persons"], frames["supporters"]
    own = F.when(F.col("household_id").isNull(), F.hash("_row")).otherwise(F.hash("household_id"))
    people = _people(frames, partitions)
    routes = people.select("_pid", F.hash("household_id").alias("_rh")).hint("shuffle_hash")
    sources = None
    for name in schema.SOURCE_TABLES:
        packed = _packed(frames[name], name, F.lit(0))  # person_id is slot s0
        sources = packed if sources is None else sources.union(packed)
    bucket = F.pmod(F.col("_row"), F.lit(partitions)).cast("int")  # rows of nobody
    names = sources.columns
    joined = sources.join(routes, sources["s0"] == routes["_pid"], "left")
    parts = [
        _packed(hh, "households", own),
        _packed(persons, "persons", F.hash("household_id")),
        _packed(supporters, "supporters", F.hash("household_id")),
        joined.select(*[F.coalesce("_rh", bucket).alias(c) if c == "_h" else c for c in names]),
        _duplicates(people),
    ]
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p)  # same layout, by position
    return union.repartition(partitions, "_h").drop("_h")


def _people(frames: dict, partitions: int):
    """(household_id, _pid, _m) of every member (_m) and supporter of a households row,
    hash-partitioned by person ID (the join of the source rows and the duplicates
    both use that one exchange)."""
    from pyspark.sql import functions as F

    ids = frames["households"].select("household_id").where(F.col("household_id").isNotNull())
    members = frames["persons"].select(
        "household_id", F.col("person_id").alias("_pid"), F.lit(True).alias("_m")
    )
    helpers = frames["supporters"].select(
        "household_id", F.col("supporter_id").alias("_pid"), F.lit(False).alias("_m")
    )
    people = members.union(helpers).where(F.col("_pid").isNotNull())
    return people.join(ids.distinct(), "household_id", "left_semi").repartition(partitions, "_pid")


def _duplicates(people):
    """The run's DUPLICATE_PERSON entries (members of more than one households row:
    person_id → sorted household_ids), one row per (person, household). Persons in
    two or more member rows are found by a count (no strings in the aggregate), and
    only their rows are collected."""
    from pyspark.sql import functions as F

    member = F.col("_m").cast("int")
    twice = people.groupBy("_pid").agg(F.sum(member).alias("_n")).where("_n > 1")
    homes = F.sort_array(F.collect_set(F.when(F.col("_m"), F.col("household_id"))))
    dups = (
        people.join(F.broadcast(twice.select("_pid")), "_pid")
        .groupBy("_pid")
        .agg(homes.alias("households"))
        .where(F.size("households") > 1)
    )
    rows = dups.select("_pid", "households", F.explode("households").alias("_home")).select(
        F.col("_pid").alias("person_id"),
        "households",
        F.lit(0).cast("long").alias("_row"),
        F.hash("_home").alias("_h"),
    )
    return _packed(rows, DUPLICATES, F.col("_h"))
