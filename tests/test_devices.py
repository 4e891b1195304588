"""Devices and precision: store keys hold what the profile asks for, so a driver without a GPU reads
back what GPU workers trained; a profile that names a GPU on a machine without one stops instead of
training there (unless allowed); "auto" precision is native bf16, else fp16 on CUDA, else fp32."""
import json

import pytest
import torch

from aux_select.experiment import context as experiment
from aux_select.experiment.context import Experiment
from aux_select.experiment.profiles import override
from aux_select.data.synthetic import synthetic_task
from aux_select.methods.run import run_methods
from aux_select.runtime.devices import ALLOW_CPU, NoDevice, pick_device, resolve_precision
from aux_select.runtime.store import Store
from fakes import fake_experiment

POOL = ["RTE", "MRPC", "WNLI", "CoLA"]
RUN_ONLY = ["Single-Task", "NO-SEL", "HEU-Size", "HEU-Type", "HEU-Len"]  # methods whose every part is an MTL run


def fake_gpu(monkeypatch, bf16: bool = True) -> None:
    """torch, as on a machine with a CUDA GPU (with native bf16, or only emulated, as on a V100)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16 or including_emulation)


def test_auto_precision_is_native_bf16_then_fp16_on_cuda_then_fp32(monkeypatch):
    cuda, mps = torch.device("cuda"), torch.device("mps")
    fake_gpu(monkeypatch, bf16=True)
    assert resolve_precision("auto", cuda) == "bf16"
    fake_gpu(monkeypatch, bf16=False)  # emulated bf16 is slow: fp16 with a gradient scaler instead
    assert resolve_precision("auto", cuda) == "fp16"
    assert resolve_precision("auto", mps) == "fp32" and resolve_precision("fp32", cuda) == "fp32"
    with pytest.raises(ValueError, match="fp16' needs a CUDA device"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="choose one of auto, fp32, bf16, fp16"):
        resolve_precision("fp8", cuda)


def test_a_named_gpu_that_is_missing_stops_unless_the_cpu_is_allowed(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(ALLOW_CPU, raising=False)
    with pytest.raises(NoDevice, match="--allow-cpu"):
        pick_device("cuda")
    assert pick_device("auto") == torch.device("cpu") and pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(ALLOW_CPU, "1")
    with pytest.warns(UserWarning, match="training on the CPU"):
        assert pick_device("cuda:1") == torch.device("cpu")


def test_a_cpu_driver_reads_back_what_cuda_workers_trained(monkeypatch, tmp_path):
    store = Store(tmp_path)
    with monkeypatch.context() as worker:  # the workers: "auto" resolves to a bf16 GPU there
        fake_gpu(worker)
        exp, calls = fake_experiment(worker, POOL, store=store, profile=override("smoke", ["train.precision=auto"]))
        trained = run_methods("RTE", RUN_ONLY, [0], POOL[1:], exp)
    runs = [r["value"] for r in store.records("run")]
    assert calls and {(r["device"], r["precision"]) for r in runs} == {("cuda", "bf16")}  # each records where it trained

    def train_here(*args, **kwargs):
        raise AssertionError("the driver trained a run the workers had stored")

    monkeypatch.setattr(experiment, "run_mtl", train_here)  # the driver: a CPU, no GPU in sight
    driver = Experiment(override("smoke", ["train.precision=auto"]), store=store, progress=False)
    for i, name in enumerate(POOL):
        driver.use_task(synthetic_task(name, seed=i))
    assert pick_device(driver.profile.train.device).type == "cpu"
    again = run_methods("RTE", RUN_ONLY, [0], POOL[1:], driver)
    assert json.dumps(again.to_json()["results"]) == json.dumps(trained.to_json()["results"])


def test_a_driver_refuses_to_train_what_a_gpu_profile_asks_for(fixture_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_CPU, raising=False)
    gpu = override("smoke", ["train.device=cuda"])
    exp = Experiment(gpu, data_dir=fixture_data_dir, store=Store(tmp_path), progress=False)
    with pytest.raises(NoDevice, match="asks for device 'cuda'"):
        exp.run(["RTE"])
    monkeypatch.setenv(ALLOW_CPU, "1")  # reproduce --allow-cpu
    with pytest.warns(UserWarning, match="training on the CPU"):
        run = exp.run(["RTE"])
    assert run.device == "cpu" and Store(tmp_path).records("run")[0]["spec"]["device"] == "cuda"
    monkeypatch.delenv(ALLOW_CPU)
    assert exp.run(["RTE"]) == run  # stored under the profile's device: read back, nothing refused


def test_local_workers_each_see_their_own_gpu():
    from aux_select.runtime.executor import worker_env
    assert [worker_env(i, 1, gpus=4)["CUDA_VISIBLE_DEVICES"] for i in range(6)] == ["0", "1", "2", "3", "0", "1"]
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(0, 2, gpus=1) and worker_env(0, 2, gpus=1)["OMP_NUM_THREADS"] == "2"
