"""The data layer: the task registry, readers for the classic file layouts, loading into train /
select / report splits, the data catalogue a context asks for tasks, your own task from a file,
tokenising and batching, and the control tasks cut from a primary."""
from aux_select.data.catalogue import TaskCatalogue
from aux_select.data.controls import ControlConfig, cut_controls
from aux_select.data.loading import DataNotFoundError, TaskData, available_tasks, data_root, load_task
from aux_select.data.overlap import report_overlap, shared_rows
from aux_select.data.own_task import task_from_dataset, task_from_file
from aux_select.data.registry import (
                                      GLUE_CLASSIFICATION,
                                      POOLS,
                                      LocalFile,
                                      TaskSpec,
                                      control_names,
                                      get_task,
                                      own_tasks,
                                      register_task,
                                      task_names,
)
from aux_select.data.statistics import describe_tasks, example_lengths, split_sizes, task_statistics, truncated_share
from aux_select.data.synthetic import synthetic_task

__all__ = ["TaskCatalogue", "ControlConfig", "cut_controls", "DataNotFoundError", "TaskData", "available_tasks",
           "data_root", "load_task", "report_overlap", "shared_rows", "task_from_dataset", "task_from_file", "GLUE_CLASSIFICATION", "POOLS",
           "LocalFile", "TaskSpec", "control_names", "get_task", "own_tasks", "register_task", "task_names",
           "describe_tasks", "example_lengths", "split_sizes", "task_statistics", "truncated_share", "synthetic_task"]
