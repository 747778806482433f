"""Tasks built from relations rather than a moving world (filled in by the generator work)."""
from memnets.data.generator.common import StoryMaker

STORY_MAKERS: dict[int, StoryMaker] = {}
