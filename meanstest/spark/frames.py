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

_NULL_KEY = "\x00row:"  # group key of a households row whose household_id is null
_NO_HOUSEHOLD = "\x01"  # group keys of rows of no household


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


def _struct(name: str):
    from pyspark.sql import functions as F

    return F.struct(*[c.name for c in schema.TABLES[name]], "_row").alias(name)


def _bucket(tag: str, partitions: int):
    """Key of rows that belong to no household (orphans, unmatched source rows): spread
    over the partitions, counted by the executors, never assessed."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.col("_row"), F.lit(partitions)).cast("string")
    return F.concat(F.lit(f"{_NO_HOUSEHOLD}{tag}:"), bucket)


def co_locate(frames: dict, partitions: int):
    """One row per household key: list<struct> per table (+ `duplicates`), hash
    partitioned by household_id into `partitions` partitions.

    Members and supporters go to their household_id (an orphan's group has no
    households row, so validate counts it as an orphan); source rows are joined to the
    members and supporters of households rows by person ID, once per household; a
    source row matching nobody goes to a bucket of its own and is counted unmatched."""
    from pyspark.sql import functions as F

    hh, persons, supporters = frames["households"], frames["persons"], frames["supporters"]
    ids = hh.select("household_id").where(F.col("household_id").isNotNull()).distinct()
    people = (
        persons.select("household_id", F.col("person_id").alias("_pid"), F.lit(True).alias("_m"))
        .unionByName(
            supporters.select(
                "household_id", F.col("supporter_id").alias("_pid"), F.lit(False).alias("_m")
            )
        )
        .join(ids, "household_id", "left_semi")
    )
    pairs = people.where("_m").select(F.col("_pid").alias("person_id"), "household_id").distinct()
    dups = (
        pairs.groupBy("person_id")
        .agg(F.count("*").alias("_n"), F.sort_array(F.collect_list("household_id")).alias("hh"))
        .where(F.col("_n") > 1)
    )
    people = people.select("household_id", "_pid").distinct()

    def own(df, tag):
        return F.coalesce(df["household_id"], _bucket(tag, partitions)).alias("_k")

    key = F.coalesce("household_id", F.concat(F.lit(_NULL_KEY), F.col("_row").cast("string")))
    parts = [
        hh.select(key.alias("_k"), _struct("households")),
        persons.select(own(persons, "p"), _struct("persons")),
        supporters.select(own(supporters, "s"), _struct("supporters")),
        pairs.join(dups, "person_id").select(
            F.col("household_id").alias("_k"),
            F.struct("person_id", F.col("hh").alias("households")).alias("duplicates"),
        ),
    ]
    sources = None
    for name in schema.SOURCE_TABLES:
        src = frames[name].select("person_id", "_row", _struct(name))
        sources = src if sources is None else sources.unionByName(src, allowMissingColumns=True)
    joined = sources.join(people, sources["person_id"] == people["_pid"], "left")
    parts.append(
        joined.select(
            F.coalesce("household_id", _bucket("u", partitions)).alias("_k"),
            *schema.SOURCE_TABLES,
        )
    )
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p, allowMissingColumns=True)
    names = [*schema.TABLES, "duplicates"]
    return (
        union.repartition(partitions, "_k")
        .groupBy("_k")
        .agg(*[F.collect_list(n).alias(n) for n in names])
    )
