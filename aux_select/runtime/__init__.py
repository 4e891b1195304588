"""The runtime layer, below everything: the results store (content-addressed JSON and arrays, with
per-key locks), where units of work run (serial or Dask), and what work cost."""
from aux_select.runtime.cost import PeakMemory, peak, timed
from aux_select.runtime.executor import DaskExecutor, SerialExecutor, UnitFailed, make_executor
from aux_select.runtime.store import SCHEMA_VERSION, JsonResult, Store, content_hash, default_store, make_key

__all__ = ["PeakMemory", "peak", "timed", "DaskExecutor", "SerialExecutor", "UnitFailed", "make_executor",
           "SCHEMA_VERSION", "JsonResult", "Store", "content_hash", "default_store", "make_key"]
