"""accord: crowd annotations consolidated on CPU or GPU, with crowd-kit's
classes. Switching from crowd-kit is a changed import::

    from accord import DawidSkene
    labels = DawidSkene(n_iter=100).fit_predict(df)  # df: task, worker, label

See python/README.md for the crowd-kit → accord mapping.
"""

from ._accord import __version__
from ._aggregators import (
    GLAD,
    KOS,
    MACE,
    MMSR,
    Accord,
    DawidSkene,
    GroundTruthMDS,
    HierarchicalDawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)

__all__ = [
    "Accord",
    "DawidSkene",
    "GLAD",
    "GroundTruthMDS",
    "HierarchicalDawidSkene",
    "KOS",
    "MACE",
    "MMSR",
    "MajorityVote",
    "OneCoinDawidSkene",
    "Wawa",
    "ZeroBasedSkill",
    "__version__",
]
