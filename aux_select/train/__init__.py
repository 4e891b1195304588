"""The training layer: the mixing schedule, the step-wise trainer, checkpoints, metrics, one MTL
run (`run_mtl`) and the rule that stops a search's run early (`StopRule`)."""
from aux_select.train.config import TrainConfig
from aux_select.train.metrics import compute_metrics
from aux_select.train.run import RunResult, run_mtl
from aux_select.train.schedule import canonical_ratio, mixing_schedule, run_length, validate_ratio
from aux_select.train.stopping import StopRule
from aux_select.train.trainer import Trainer

__all__ = ["TrainConfig", "compute_metrics", "RunResult", "run_mtl", "canonical_ratio", "mixing_schedule",
           "run_length", "validate_ratio", "StopRule", "Trainer"]
