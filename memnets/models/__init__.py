"""The memory networks, one per file. ``MODELS`` maps a checkpoint's model name to its config and class."""
from memnets.models.memn2n import MemN2N, MemN2NConfig

MODELS = {"memn2n": (MemN2NConfig, MemN2N)}
