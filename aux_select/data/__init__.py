"""The data layer: the task registry, readers for the classic file layouts, loading into train /
select / report splits, tokenising and batching, and the control tasks cut from a primary."""
from aux_select.data.controls import ControlConfig, cut_controls
from aux_select.data.loading import DataNotFoundError, TaskData, available_tasks, data_root, load_task
from aux_select.data.registry import (
                                      GLUE_CLASSIFICATION,
                                      POOLS,
                                      LocalFile,
                                      TaskSpec,
                                      control_names,
                                      get_task,
                                      register_task,
                                      task_names,
)
from aux_select.data.statistics import describe_tasks, example_lengths, split_sizes, task_statistics, truncated_share
from aux_select.data.synthetic import synthetic_task

__all__ = ["ControlConfig", "cut_controls", "DataNotFoundError", "TaskData", "available_tasks", "data_root",
           "load_task", "GLUE_CLASSIFICATION", "POOLS", "LocalFile", "TaskSpec", "control_names", "get_task",
           "register_task", "task_names", "describe_tasks", "example_lengths", "split_sizes", "task_statistics",
           "truncated_share", "synthetic_task"]
