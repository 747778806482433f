"""Tasks whose stories come from a simulated world of actors, objects and locations (filled in by the generator work)."""
from memnets.data.generator.common import StoryMaker

STORY_MAKERS: dict[int, StoryMaker] = {}
