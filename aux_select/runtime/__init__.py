"""The runtime layer, below everything: the results store (content-addressed JSON and arrays, with
per-key locks), where units of work run (serial or Dask), on which device and at what precision,
and what work cost."""
from aux_select.runtime.cost import Clock, Part, PeakMemory, peak, timed
from aux_select.runtime.devices import NoDevice, pick_device, resolve_precision
from aux_select.runtime.executor import DaskExecutor, SerialExecutor, UnitFailed, make_executor
from aux_select.runtime.store import (
    SCHEMA_VERSION,
    JsonResult,
    Store,
    Summary,
    content_hash,
    default_store,
    jsonable,
    make_key,
    write_summary,
)

__all__ = ["Clock", "Part", "PeakMemory", "peak", "timed", "NoDevice", "pick_device", "resolve_precision",
           "DaskExecutor", "SerialExecutor", "UnitFailed", "make_executor",
           "SCHEMA_VERSION", "JsonResult", "Store", "Summary", "content_hash", "default_store", "jsonable", "make_key",
           "write_summary"]
