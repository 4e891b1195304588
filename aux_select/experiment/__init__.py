"""The experiment layer: the context every method takes (profile, seed, data, store, executor) and
the profiles that fix every setting."""
from aux_select.experiment.context import Experiment, as_experiment, output_dirs
from aux_select.experiment.profiles import PROFILES, Profile, get_profile, override

__all__ = ["Experiment", "as_experiment", "output_dirs", "PROFILES", "Profile", "get_profile", "override"]
