"""
Stage 1 of AutoSeM: pick auxiliary tasks with a non-stationary Thompson-sampling bandit.

Follows Algorithm 1 of Guo, Pasunuru & Bansal, "AutoSeM: Automatic Task Selection and
Mixing in Multi-Task Learning" (NAACL 2019). Each arm is a task (the primary plus the
candidate auxiliaries) with a Beta(alpha, beta) belief over its utility. Each round we
sample every Beta, train on the argmax task, observe a 0/1 reward, decay every arm back
toward its prior by gamma (the task utilities drift while the shared model trains), and
credit the pulled arm.

What the reward means (e.g. "primary dev metric improved since the last round") and how
the very first round is scored, when there is no previous metric, is the driver's
business, not this class's: `update` just takes a reward in [0, 1].
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from aux_select.runtime.store import jsonable


class ThompsonBandit:
    """Beta-Bernoulli Thompson sampling with non-stationary decay toward the prior."""

    def __init__(self, n_arms: int, *, prior: tuple[float, float] = (1.0, 1.0),
                 primary_prior: tuple[float, float] | None = None, primary_arm: int = 0,
                 gamma: float = 0.3, seed: int | np.random.Generator | None = 0) -> None:
        """seed: an int seeds a fresh PCG64 generator, a Generator is used as is (and
        advanced in place), None draws fresh OS entropy (runs are then not reproducible)."""
        if n_arms < 2:
            raise ValueError(f"n_arms={n_arms}: the bandit needs the primary and at least one "
                             "candidate auxiliary task, so pass n_arms >= 2")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma={gamma} is outside [0, 1]; use 0 for a stationary bandit, "
                             "1 to forget everything each round")
        if not 0 <= primary_arm < n_arms:
            raise ValueError(f"primary_arm={primary_arm} is out of range; it must be in [0, {n_arms})")
        for name, p in (("prior", prior), ("primary_prior", primary_prior)):
            if p is not None and (len(p) != 2 or min(p) <= 0):
                raise ValueError(f"{name}={p} is invalid; Beta parameters must be a pair of "
                                 "numbers > 0, e.g. (1.0, 1.0)")
        self.n_arms, self.gamma, self.primary_arm = n_arms, float(gamma), primary_arm
        self.alpha0 = np.full(n_arms, float(prior[0]))
        self.beta0 = np.full(n_arms, float(prior[1]))
        if primary_prior is not None:
            self.alpha0[primary_arm], self.beta0[primary_arm] = primary_prior
        self.alpha, self.beta = self.alpha0.copy(), self.beta0.copy()
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self.n_rounds = 0
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.last_sample: np.ndarray | None = None

    def choose(self) -> int:
        """Sample a utility for every arm from its Beta belief and return the argmax."""
        self.last_sample = self.rng.beta(self.alpha, self.beta)
        return int(np.argmax(self.last_sample))  # ties -> lowest index

    def update(self, arm: int, reward: float) -> None:
        """Algorithm 1: decay every arm toward its prior, then credit the pulled arm."""
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm={arm} is out of range; it must be in [0, {self.n_arms})")
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"reward={reward} is outside [0, 1]; pass a 0/1 (or fractional) reward")
        g = self.gamma
        # decay all arms, not just the pulled one: unpulled arms' evidence goes stale too
        self.alpha = (1 - g) * self.alpha + g * self.alpha0
        self.beta = (1 - g) * self.beta + g * self.beta0
        self.alpha[arm] += reward
        self.beta[arm] += 1.0 - reward
        self.counts[arm] += 1
        self.n_rounds += 1

    def utilities(self) -> np.ndarray:
        """Posterior mean utility of each arm, alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    def state_dict(self) -> dict:
        """Everything needed to resume, as JSON-serialisable plain Python types."""
        return {
            "n_arms": self.n_arms, "gamma": self.gamma, "primary_arm": self.primary_arm,
            "alpha0": self.alpha0.tolist(), "beta0": self.beta0.tolist(),
            "alpha": self.alpha.tolist(), "beta": self.beta.tolist(),
            "counts": self.counts.tolist(), "n_rounds": self.n_rounds,
            "last_sample": None if self.last_sample is None else self.last_sample.tolist(),
            "rng": jsonable(self.rng.bit_generator.state, "rng"),
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> ThompsonBandit:
        """Rebuild a bandit that continues with exactly the draws the original would make."""
        rng_state = state["rng"]
        bitgen = getattr(np.random, rng_state["bit_generator"])()
        bitgen.state = rng_state
        b = cls(state["n_arms"], gamma=state["gamma"], primary_arm=state["primary_arm"],
                seed=np.random.Generator(bitgen))
        b.alpha0, b.beta0 = np.array(state["alpha0"], float), np.array(state["beta0"], float)
        b.alpha, b.beta = np.array(state["alpha"], float), np.array(state["beta"], float)
        b.counts = np.array(state["counts"], dtype=np.int64)
        b.n_rounds = int(state["n_rounds"])
        b.last_sample = None if state.get("last_sample") is None else np.array(state["last_sample"])
        return b


def select_auxiliary(utilities: Mapping[str, float], primary: str, *, top_k: int = 2,
                     threshold: float = 0.5, pulls: Mapping[str, int] | None = None) -> list[str]:
    """AutoSeM's rule: the top_k non-primary tasks by utility, plus any other with
    utility > threshold; sorted by utility descending.

    Equal utilities are common (every arm left unpulled long enough decays to its prior mean),
    so ties go to the arm pulled more often (`pulls`), the bandit's own long-run preference,
    and only then to the name.
    """
    if primary not in utilities:
        raise ValueError(f"primary={primary!r} is not among the tasks {sorted(utilities)}; "
                         "pass the utilities of every arm including the primary")
    pulls = pulls or {}
    ranked = sorted((t for t in utilities if t != primary),
                    key=lambda t: (-utilities[t], -pulls.get(t, 0), t))
    return [t for i, t in enumerate(ranked) if i < top_k or utilities[t] > threshold]
