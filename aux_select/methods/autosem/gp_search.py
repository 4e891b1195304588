"""AutoSeM stage 2 (Guo, Pasunuru & Bansal, NAACL 2019): learn the mixing ratio η_1:…:η_N of the
primary and its selected auxiliary tasks with Gaussian-process Bayesian optimisation, and the
whole pipeline (stage 1, selection, stage 2).

The optimiser is exactly the one `skopt.gp_minimize` builds: its default base estimator, a GP
with kernel ConstantKernel * Matern(nu=2.5) and one length scale per dimension (ARD Matern),
Gaussian noise, `acq_func="gp_hedge"`, and the acquisition minimised by L-BFGS from 10 000
samples with 5 restarts. We drive its ask/tell loop ourselves instead of calling
`gp_minimize(x0=…, y0=…)`, because that lets us (1) store every point the moment it finishes,
(2) resume by replaying the stored points through the same asks and tells, so a resumed search
proposes exactly what an uninterrupted one would, and (3) replace a proposal that repeats an
already evaluated integer ratio instead of training it twice.

With `batch_size=k > 1` the search asks for k ratios at a time (`Optimizer.ask(n_points=k,
strategy="cl_min")`, the constant liar), evaluates them together (on k workers with a Dask
executor) and tells the k results at once. It is another search than k=1's (its points are
stored under their own key) and it resumes just as exactly: every point is stored as it
finishes, and a rerun asks the same batches again and evaluates only the points not stored.

The space is AutoSeM's (the primary's entry in [1, R], each auxiliary's in [0, R]); stage 2
trains each point as the ratio that fits the profile's K (`train.schedule.within_k`: the
primary's entry raised where the auxiliaries would pass K times it), so the GP sees the box and
no run trains the primary less than its budget.

The objective is minus the primary's **select** score after an MTL run with the ratio; the
report score of every run is kept but never used to choose.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np
from sklearn.utils import check_random_state
from skopt import Optimizer
from skopt.space import Integer
from skopt.utils import cook_estimator, normalize_dimensions
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

# gp_minimize's defaults, written out so the store key changes if we ever change one
GP_SETTINGS = {"acq_func": "gp_hedge", "acq_optimizer": "auto", "noise": "gaussian",
               "n_points": 10_000, "n_restarts_optimizer": 5, "xi": 0.01, "kappa": 1.96}
Point = tuple[list[int], float]  # (ratio, objective value); NaN: the evaluation failed


# ----------------------------------------------------------------------------- the search

def ratio_space(n_tasks: int, max_ratio: int = 20, names: Sequence[str] | None = None) -> list[Integer]:
    """The primary's entry in [1, R], every auxiliary task's in [0, R] (0 leaves it out)."""
    names = list(names) if names is not None else [f"task {i}" for i in range(n_tasks)]
    return [Integer(1, max_ratio, name=names[0])] + [Integer(0, max_ratio, name=n) for n in names[1:]]


def check_search(n_tasks: int, n_calls: int, n_initial_points: int, max_ratio: int) -> None:
    """ValueError naming the fix for settings no search can run with."""
    if n_tasks < 2:
        raise ValueError(f"a mixing ratio needs the primary and at least one auxiliary task, got {n_tasks} task(s)")
    if max_ratio < 1:
        raise ValueError(f"max_ratio={max_ratio}; the primary's entry lies in [1, max_ratio], so use max_ratio >= 1")
    if n_calls < 1 or n_initial_points < 1:
        raise ValueError(f"n_calls={n_calls}, n_initial_points={n_initial_points}; both must be at least 1")
    size = max_ratio * (max_ratio + 1) ** (n_tasks - 1)
    if n_calls > size:
        raise ValueError(f"n_calls={n_calls} exceeds the {size} distinct ratios with max_ratio={max_ratio}; "
                         "lower n_calls or raise max_ratio")


def make_optimizer(space: list[Integer], n_initial_points: int, seed: int) -> Optimizer:
    """The `skopt.Optimizer` that `gp_minimize(…, random_state=seed)` would build."""
    rng = check_random_state(seed)
    space = normalize_dimensions(space)
    gp = cook_estimator("GP", space=space, random_state=rng.randint(0, np.iinfo(np.int32).max),
                        noise=GP_SETTINGS["noise"])
    return Optimizer(space, gp, n_initial_points=n_initial_points, acq_func=GP_SETTINGS["acq_func"],
                     acq_optimizer=GP_SETTINGS["acq_optimizer"], random_state=rng,
                     acq_optimizer_kwargs={"n_points": GP_SETTINGS["n_points"], "n_jobs": 1,
                                           "n_restarts_optimizer": GP_SETTINGS["n_restarts_optimizer"]},
                     acq_func_kwargs={"xi": GP_SETTINGS["xi"], "kappa": GP_SETTINGS["kappa"]})


def _propose(opt: Optimizer, seen: set[tuple], seed: int, index: int) -> list[int]:
    """The optimiser's next ratio; one already evaluated becomes a random unseen one."""
    with warnings.catch_warnings(), _one_thread():  # skopt warns about its own duplicate replacement
        warnings.simplefilter("ignore", UserWarning)
        x = [int(v) for v in opt.ask()]
    return _unseen(opt, x, seen, seed, index)


def _propose_batch(opt: Optimizer, seen: set[tuple], seed: int, index: int, n: int) -> list[list[int]]:
    """The optimiser's next `n` ratios by the constant liar (each proposed as if the ones before
    it had scored the best value so far); repeats become random unseen ratios."""
    with warnings.catch_warnings(), _one_thread():
        warnings.simplefilter("ignore", UserWarning)
        xs = [[int(v) for v in x] for x in opt.ask(n_points=n, strategy="cl_min")]
    taken = set(seen)
    for j, x in enumerate(xs):
        xs[j] = _unseen(opt, x, taken, seed, index + j)
        taken.add(tuple(xs[j]))
    return xs


def _unseen(opt: Optimizer, x: list[int], seen: set[tuple], seed: int, index: int) -> list[int]:
    # skopt swaps a repeated proposal for a random point, which can itself be a repeat in an
    # integer space; draw from a generator fixed by (seed, index) so a replay draws the same
    rng = np.random.default_rng([seed, index])
    while tuple(x) in seen:
        x = [int(rng.integers(d.low, d.high + 1)) for d in opt.space.dimensions]
    return x


def _one_thread():
    # the GP's matrices have at most n_calls rows: extra BLAS/OpenMP threads only add overhead,
    # several times the work itself on a busy two-core machine
    return threadpool_limits(1)


def _tell(opt: Optimizer, x: list[int], y: float, failure_value: float, fit: bool = True) -> None:
    with _one_thread():
        opt.tell(x, y if math.isfinite(y) else failure_value, fit=fit)


def _tell_batch(opt: Optimizer, xs: list[list[int]], ys: list[float], failure_value: float, fit: bool) -> None:
    with _one_thread():
        opt.tell(xs, [y if math.isfinite(y) else failure_value for y in ys], fit=fit)


def search_ratio(objective: Callable[[list[int]], float], n_tasks: int, *, n_calls: int,
                 n_initial_points: int, max_ratio: int = 20, seed: int = 0,
                 previous: Sequence[Point] = (), on_point: Callable[[list[int], float], None] | None = None,
                 failure_value: float = 0.0, names: Sequence[str] | None = None,
                 progress: bool = False, batch_size: int = 1,
                 map_batch: Callable[[list[list[int]]], list[float]] | None = None) -> list[Point]:
    """Minimise `objective(ratio)` over integer ratios with gp_minimize's GP; return every
    evaluated (ratio, value) in order, `previous` first, `n_calls` of them, all distinct.

    `previous` are points of an earlier search with the same settings (the objective is not
    called for them); they are replayed through the optimiser, so the search continues as if
    never interrupted and only `n_calls - len(previous)` new points are evaluated (previous
    beyond `n_calls` are dropped). `on_point(ratio, value)` runs after each new evaluation,
    before the optimiser sees it: store the point there. A non-finite value marks a failed
    evaluation: it is kept as NaN and the GP is told `failure_value` (for minus a score, minus
    the metric's lowest value, e.g. 0 for accuracy).

    `batch_size=k > 1`: k ratios are asked at a time by the constant liar and evaluated by
    `map_batch(ratios) -> values` (default: `objective` on each in turn; e.g. on k workers),
    `on_point` running for each after its batch; `previous` may then come in any order (as a
    batch's points finish) and each is used where the search proposes it.
    """
    check_search(n_tasks, n_calls, n_initial_points, max_ratio)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; propose at least 1 ratio at a time")
    space = ratio_space(n_tasks, max_ratio, names)
    # k = 1 replays the first n_calls in order; a batched search finds each where it is proposed
    previous = _check_previous(list(previous)[:n_calls if batch_size == 1 else None], space)
    opt, points, seen = make_optimizer(space, n_initial_points, seed), [], set()
    if batch_size > 1:
        return _search_batched(opt, objective, n_calls, seed, previous, on_point, failure_value, progress,
                               batch_size, map_batch)
    for x, y in previous:  # replay: the same asks and tells as the search that made them
        _propose(opt, seen, seed, len(points))
        _tell(opt, x, y, failure_value)
        points.append((x, y))
        seen.add(tuple(x))
    # a search read back whole is no work: no bar
    bar = tqdm(total=n_calls, initial=len(points), desc="GP search", disable=not progress or len(points) >= n_calls,
               leave=False)
    while len(points) < n_calls:
        x = _propose(opt, seen, seed, len(points))
        y = float(objective(list(x)))
        if on_point is not None:
            on_point(list(x), y)
        points.append((x, y))
        seen.add(tuple(x))
        _tell(opt, x, y, failure_value, fit=len(points) < n_calls)  # the last fit would go unused
        bar.update()
        bar.set_postfix(best=f"{min((v for _, v in points if math.isfinite(v)), default=math.nan):.4g}")
    bar.close()
    return points


def _check_previous(previous: Sequence[Point], space: list[Integer]) -> list[Point]:
    """Stored points as (list of ints, float); ValueError if one is not of this search's space."""
    previous = [([int(v) for v in x], float(y)) for x, y in previous]
    for x, _ in previous:
        if len(x) != len(space) or not all(d.low <= v <= d.high for d, v in zip(space, x)):
            raise ValueError(f"stored point {x} does not fit the space (primary in [1, {space[0].high}], auxiliary "
                             f"tasks in [0, {space[0].high}], {len(space)} entries); it belongs to another search")
    if len({tuple(x) for x, _ in previous}) != len(previous):
        raise ValueError("the stored points repeat a ratio; they belong to another search")
    return previous


def _search_batched(opt: Optimizer, objective, n_calls: int, seed: int, previous: list[Point], on_point,
                    failure_value: float, progress: bool, batch_size: int, map_batch) -> list[Point]:
    """`search_ratio` with k ratios per ask and tell; stored points are reused where proposed."""
    known = {tuple(x): y for x, y in previous}
    evaluate = map_batch or (lambda xs: [objective(list(x)) for x in xs])
    points, seen = [], set()
    bar = tqdm(total=n_calls, desc="GP search", disable=not progress or len(known) >= n_calls, leave=False)
    while len(points) < n_calls:
        xs = _propose_batch(opt, seen, seed, len(points), min(batch_size, n_calls - len(points)))
        new = [x for x in xs if tuple(x) not in known]
        for x, y in zip(new, evaluate([list(x) for x in new]) if new else []):
            known[tuple(x)] = float(y)
            if on_point is not None:
                on_point(list(x), float(y))
        ys = [known[tuple(x)] for x in xs]
        points += list(zip(xs, ys))
        seen.update(map(tuple, xs))
        _tell_batch(opt, xs, ys, failure_value, fit=len(points) < n_calls)  # the last fit would go unused
        bar.update(len(xs))
    bar.close()
    return points


def best_point(points: Sequence[Point]) -> Point | None:
    """The first point with the lowest finite value (None if every evaluation failed)."""
    finite = [p for p in points if math.isfinite(p[1])]
    return min(finite, key=lambda p: p[1]) if finite else None
