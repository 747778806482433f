"""A small simulated world for the bAbI tasks whose stories describe people moving about and handling objects.

The world holds the *true* state (where everyone and everything is) and, separately, what the story has told the
reader so far: for each fact it keeps the ids of the statements that establish it. Questions are built only from
the reader's knowledge, so every answer follows from the story and its supporting facts are exact.

Vocabulary follows the bAbI release v1.2 (Weston et al. 2015); pools beyond the release's names serve the knobs
that ask for more actors, objects or locations than the release has.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from memnets.data.generator.common import Knobs, Line

# ---- vocabulary (as in the release) -----------------------------------------------------------------------
ACTORS = ("Mary", "John", "Daniel", "Sandra")  # tasks 1-3, 6-9, 11-13
ACTORS_GIVE = ("Bill", "Fred", "Jeff", "Mary")  # task 5
ACTORS_TIME = ("Bill", "Fred", "Julie", "Mary")  # tasks 10 and 14
LOCATIONS = ("bathroom", "bedroom", "kitchen", "hallway", "garden", "office")  # most tasks
LOCATIONS_TIME = ("school", "park", "office", "kitchen", "cinema", "bedroom")  # tasks 10 and 14
OBJECTS = ("football", "apple", "milk")

PRONOUN = {"Mary": "she", "Sandra": "she", "Julie": "she", "John": "he", "Daniel": "he", "Bill": "he",
           "Fred": "he", "Jeff": "he"}

MOVE_VERBS = ("moved to", "journeyed to", "travelled to", "went back to", "went to")
GET_VERBS = ("got", "took", "grabbed", "picked up")
DROP_VERBS = ("dropped", "discarded", "put down", "left")
GIVE_VERBS = ("gave", "handed", "passed")
NUMBERS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

# ---- extra names, only used when a knob asks for more than the release has ---------------------------------
_EXTRA_ACTORS = (("Bill", "he"), ("Fred", "he"), ("Jeff", "he"), ("Julie", "she"), ("Emily", "she"),
                 ("Jason", "he"), ("Gertrude", "she"), ("Antoine", "he"), ("Winona", "she"), ("Yann", "he"),
                 ("Jessica", "she"), ("Sumit", "he"), ("Lily", "she"), ("Brian", "he"), ("Mary", "she"),
                 ("John", "he"), ("Daniel", "he"), ("Sandra", "she"), ("Greg", "he"), ("Julius", "he"))
_EXTRA_LOCATIONS = ("bathroom", "bedroom", "kitchen", "hallway", "garden", "office", "park", "school", "cinema",
                    "attic", "cellar", "library", "lobby", "garage", "pantry", "porch", "balcony", "basement",
                    "closet", "studio")
_EXTRA_OBJECTS = ("football", "apple", "milk", "book", "key", "pen", "cup", "box", "hat", "bag", "lamp", "coin")


def _grow(base: tuple[str, ...], pool: tuple[str, ...], n: int, stem: str) -> tuple[str, ...]:
    names = list(base[:n])
    for name in pool:
        if len(names) >= n:
            break
        if name not in names:
            names.append(name)
    i = 1
    while len(names) < n:  # beyond every pool: numbered names ("room1", ...) keep the templates intact
        if f"{stem}{i}" not in names:
            names.append(f"{stem}{i}")
        i += 1
    return tuple(names)


def actor_names(base: tuple[str, ...], n: int | None) -> tuple[str, ...]:
    extra = tuple(a for a, _ in _EXTRA_ACTORS)
    return base if n is None else _grow(base, extra, n, "Person")


def pronoun(actor: str) -> str:
    if actor in PRONOUN:
        return PRONOUN[actor]
    for name, p in _EXTRA_ACTORS:
        if name == actor:
            return p
    return "she" if sum(map(ord, actor)) % 2 else "he"  # numbered names: any fixed choice will do


def location_names(base: tuple[str, ...], n: int | None) -> tuple[str, ...]:
    return base if n is None else _grow(base, _EXTRA_LOCATIONS, n, "room")


def object_names(base: tuple[str, ...], n: int | None) -> tuple[str, ...]:
    return base if n is None else _grow(base, _EXTRA_OBJECTS, n, "thing")


def check_knobs(knobs: Knobs, task: int, *, min_actors: int = 1, min_locations: int = 2, min_objects: int = 1,
                min_length: int = 2, even_length: bool = False, max_length: int | None = None) -> None:
    """Raise ValueError naming the bad knob value and what this task expects."""
    def bad(name, value, expected):
        raise ValueError(f"task {task}: {name}={value!r} is invalid; expected {expected}")

    for name, value, lo in (("n_actors", knobs.n_actors, min_actors), ("n_locations", knobs.n_locations, min_locations),
                            ("n_objects", knobs.n_objects, min_objects), ("story_length", knobs.story_length, min_length)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < lo):
            bad(name, value, f"an int >= {lo}")
    if knobs.story_length is not None:
        if even_length and knobs.story_length % 2:
            bad("story_length", knobs.story_length, "an even number (statements come in pairs)")
        if max_length is not None and knobs.story_length > max_length:
            bad("story_length", knobs.story_length, f"at most {max_length} with these knobs")
    if knobs.n_supporting is not None and (not isinstance(knobs.n_supporting, int) or knobs.n_supporting < 1):
        bad("n_supporting", knobs.n_supporting, "an int >= 1")


# ---- the world ---------------------------------------------------------------------------------------------
@dataclass
class Give:
    line: int
    giver: str
    obj: str
    receiver: str


@dataclass
class World:
    """True state plus the reader's knowledge, with the statement ids behind each known fact."""

    rng: random.Random
    actors: tuple[str, ...]
    locations: tuple[str, ...]
    objects: tuple[str, ...] = ()
    lines: list[Line] = field(default_factory=list)
    n_statements: int = 0

    def __post_init__(self):
        rng = self.rng
        # hidden start positions: the story may mention an actor picking something up before saying where they are
        self.where = {a: rng.choice(self.locations) for a in self.actors}
        self.where_fact: dict[str, int] = {}  # actor -> id of the last statement placing them (what the reader knows)
        self.moves: dict[str, list[tuple[int, str]]] = {a: [] for a in self.actors}  # stated moves (id, location)
        self.obj_where = {o: rng.choice(self.locations) for o in self.objects}  # on the floor, when not held
        self.holder: dict[str, str | None] = {o: None for o in self.objects}
        self.picked: dict[str, int] = {}  # object -> id of the statement where its holder took it
        # object -> (drop id, dropper, id placing the dropper then, id of the pick-up before the drop)
        self.dropped: dict[str, tuple[int, str, int | None, int | None]] = {}
        self.carrying: dict[str, list[str]] = {a: [] for a in self.actors}  # in order of acquisition
        self.events: dict[str, list[int]] = {a: [] for a in self.actors}  # ids of everything changing what a holds
        # actor -> object -> ids of that object's events, objects in the order the actor first acquired them
        # (task 8 lists objects, and groups their supports, in that order, as the release does)
        self.handled: dict[str, dict[str, list[int]]] = {a: {} for a in self.actors}
        self.gives: list[Give] = []
        self.trail: dict[str, list[tuple[int, str]]] = {o: [] for o in self.objects}  # carrier's moves since pick-up
        self.ordinal: dict[int, int] = {}  # line id -> how many statements up to and including it

    # -- writing -------------------------------------------------------------------------------------------
    def say(self, text: str) -> int:
        self.lines.append(Line(text))
        self.n_statements += 1
        self.ordinal[len(self.lines)] = self.n_statements
        return len(self.lines)

    def ask(self, question: Line) -> None:
        self.lines.append(question)

    # -- actions (each writes its statement and updates state and knowledge) --------------------------------
    def move(self, actor: str, place: str | None = None, verb: str | None = None, text: str | None = None) -> int:
        """Move ``actor`` to ``place`` (another place than now when not given); ``text`` overrides the sentence."""
        rng = self.rng
        if place is None:
            place = self.other_location(self.where[actor])
        verb = verb or rng.choice(MOVE_VERBS)
        i = self.say(text if text is not None else f"{actor} {verb} the {place}.")
        self.place(actor, place, i)
        return i

    def place(self, actor: str, place: str, line: int) -> None:
        """Record that statement ``line`` puts ``actor`` in ``place`` (moves, 'is in', group moves)."""
        self.where[actor] = place
        self.where_fact[actor] = line
        self.moves[actor].append((line, place))
        for o in self.carrying.get(actor, ()):
            self.trail[o].append((line, place))

    def get(self, actor: str, obj: str, there: bool = True) -> int:
        verb = self.rng.choice(GET_VERBS)
        i = self.say(f"{actor} {verb} the {obj}{' there' if there else ''}.")
        self.holder[obj] = actor
        self.picked[obj] = i
        self.dropped.pop(obj, None)
        self.trail[obj] = []
        self.carrying[actor].append(obj)
        self.events[actor].append(i)
        self.handled[actor].setdefault(obj, []).append(i)
        return i

    def drop(self, actor: str, obj: str, there: bool = False) -> int:
        verb = self.rng.choice(DROP_VERBS)
        i = self.say(f"{actor} {verb} the {obj}{' there' if there else ''}.")
        self.holder[obj] = None
        self.obj_where[obj] = self.where[actor]
        self.dropped[obj] = (i, actor, self.where_fact.get(actor), self.picked.pop(obj, None))
        self.carrying[actor].remove(obj)
        self.events[actor].append(i)
        self.handled[actor].setdefault(obj, []).append(i)
        return i

    def give(self, actor: str, obj: str, receiver: str) -> int:
        verb = self.rng.choice(GIVE_VERBS)
        i = self.say(f"{actor} {verb} the {obj} to {receiver}.")
        self.holder[obj] = receiver
        self.picked[obj] = i
        self.carrying[actor].remove(obj)
        self.carrying[receiver].append(obj)
        self.trail[obj] = []
        self.events[actor].append(i)
        self.events[receiver].append(i)
        self.handled[actor].setdefault(obj, []).append(i)
        self.handled[receiver].setdefault(obj, []).append(i)
        self.gives.append(Give(i, actor, obj, receiver))
        return i

    # -- helpers -------------------------------------------------------------------------------------------
    def other_location(self, place: str | None) -> str:
        rng, locs = self.rng, self.locations
        while True:
            p = locs[int(rng.random() * len(locs))]
            if p != place:
                return p

    def random_action(self, weights: dict[str, float], there_get: float = 1.0, there_drop: float = 0.22) -> int:
        """One random statement: choose an action kind by ``weights`` among those possible now, then who and what.

        Getting needs a free object where the actor truly is; giving needs another actor in the same place; so the
        world stays consistent even though the story never says where objects start.
        """
        rng = self.rng
        options = []
        for kind, w in weights.items():
            if w <= 0:
                continue
            if kind == "move":
                options.append((kind, w, None))
            elif kind == "get":
                pairs = [(a, o) for o in self.objects if self.holder[o] is None
                         for a in self.actors if self.where[a] == self.obj_where[o]]
                if pairs:
                    options.append((kind, w, pairs))
            elif kind == "drop":
                pairs = [(a, o) for a in self.actors for o in self.carrying[a]]
                if pairs:
                    options.append((kind, w, pairs))
            elif kind == "give":
                triples = [(a, o, b) for a in self.actors for o in self.carrying[a]
                           for b in self.actors if b != a and self.where[b] == self.where[a]]
                if triples:
                    options.append((kind, w, triples))
        total = sum(w for _, w, _ in options)
        r = rng.random() * total
        for kind, w, choices in options:
            r -= w
            if r < 0:
                break
        if kind == "move":
            return self.move(rng.choice(self.actors))
        pick = rng.choice(choices)
        if kind == "get":
            return self.get(*pick, there=rng.random() < there_get)
        if kind == "drop":
            return self.drop(*pick, there=rng.random() < there_drop)
        return self.give(*pick)


# ---- choosing and timing questions ---------------------------------------------------------------------------
def pick(rng: random.Random, candidates: list[Line], uniform: bool, world: World | None = None,
         window: int | None = 5, decay: float = 0.75, anchor=max) -> Line | None:
    """Choose a question among those the story can answer.

    The release only asks about facts just told: a question's ``anchor`` support (its latest; for tasks 2 and 3
    the object fact) lies within the last ``window`` statements (true of every task here but 14), and recent ones
    are favoured. So candidates outside the window are dropped and the rest ranked by their anchor, rank k
    weighted ``decay**k``. With long
    stories (``uniform``) every candidate is equally likely, however far back its supports lie.
    """
    if uniform:
        return candidates[int(rng.random() * len(candidates))] if candidates else None
    if window is not None and world is not None:
        oldest = world.n_statements - window
        candidates = [q for q in candidates if world.ordinal[anchor(q.supports)] > oldest]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    ranked = sorted(candidates, key=lambda q: -anchor(q.supports))
    weights = [decay ** k for k in range(len(ranked))]
    r = rng.random() * sum(weights)
    for q, w in zip(ranked, weights):
        r -= w
        if r < 0:
            return q
    return ranked[-1]


class StoryDone(Exception):
    """Raised by a step when the world has nothing more to tell; the story ends there."""


class NoQuestion(Exception):
    """A story ended without any question; the caller draws another."""


def drive(rng: random.Random, world: World, knobs: Knobs, step, question, *, p_ask: float = 1.0,
          n_questions: int | None = None, max_statements: int = 5000) -> list[Line]:
    """Run a story: ``step(n)`` writes ``n`` (<= 2) statements, ``question(uniform)`` returns a Line or None.

    As in the release, statements come two at a time and after each pair a question is asked with probability
    ``p_ask`` when one can be answered, until ``n_questions`` (5) are asked. With ``story_length`` set, the story
    has exactly that many statements and the questions fall at evenly spaced points (or the first pair after, when
    nothing can be asked there), asked about any fact, however far back.
    """
    nq = n_questions or int(knobs.extra.get("questions_per_story", 5))
    length = knobs.story_length
    if length is None:
        asked = 0
        while asked < nq and world.n_statements < max_statements:
            try:
                step(2)
            except StoryDone:
                break
            if rng.random() < p_ask:
                q = question(False)
                if q is not None:
                    world.ask(q)
                    asked += 1
        if asked == 0:
            raise NoQuestion
        return world.lines
    points = [max(1, -(-length * (k + 1) // nq)) for k in range(nq)]
    while world.n_statements < length:
        try:
            step(min(2, length - world.n_statements))
        except StoryDone:
            break
        if points and world.n_statements >= points[0]:
            q = question(True)
            if q is not None:
                world.ask(q)
                points.pop(0)
    if len(points) == nq:
        raise NoQuestion
    return world.lines


def retry(make, rng: random.Random, knobs: Knobs, tries: int = 200) -> list[Line]:
    """Call ``make(rng, knobs)`` until it yields a story with a question (rare retries only for odd knobs)."""
    for _ in range(tries):
        try:
            return make(rng, knobs)
        except NoQuestion:
            continue
    raise ValueError(f"could not make a story with a question under {knobs}; try a longer story_length")
