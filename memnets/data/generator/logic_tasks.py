"""bAbI tasks built from relations rather than a moving world: 4 and 15-20.

The bAbI tasks come from Weston et al. 2015, "Towards AI-Complete Question Answering: A Set of Prerequisite Toy
Tasks". The release was made by a Lua program; this module is our own Python version, written to match the
release v1.2 in templates, vocabulary, story shapes and the statistics of how facts are chosen and ordered.
The choices below were fitted by studying the release files (see the comments on each task).

Each ``make_*`` function returns one story (statements and questions interleaved, in release order), using only
the ``rng`` it is given. ``STORY_MAKERS`` maps task number to story maker.
"""
from __future__ import annotations

import random

from memnets.data.generator.common import Knobs, Line, StoryMaker

# ----------------------------------------------------------------------------------------------------------------
# Shared vocabulary and helpers
# ----------------------------------------------------------------------------------------------------------------

# The release's six rooms come first, so the default setting uses exactly them; the extra rooms are only used when
# a knob asks for more places than the release has.
ROOMS = ["office", "kitchen", "garden", "hallway", "bedroom", "bathroom",
         "cellar", "attic", "library", "garage", "study", "porch", "pantry", "lounge"]
RELEASE_ROOMS = 6

# Compass directions as unit steps on a grid (x grows east, y grows north).
COMPASS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}


def _check_range(name: str, value: int | None, lo: int, hi: int, default: int) -> int:
    """``value`` (or ``default`` when None), after checking ``lo <= value <= hi``."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r}: expected an integer from {lo} to {hi} for this task")
    return value


def _grid_tree(rng: random.Random, n_rooms: int, names: list[str]) -> list[tuple[str, str, str]]:
    """A random tree of rooms on a compass grid: ``n_rooms - 1`` edges ``(a, direction, b)`` meaning a is direction
    of b. Each new room hangs off a random existing room in a direction that room does not use yet, so the facts
    never name two rooms "north of the kitchen" (the release's path answers never go back on themselves)."""
    rooms = rng.sample(names, n_rooms)
    used: dict[str, set[str]] = {rooms[0]: set()}
    edges = []
    for new in rooms[1:]:
        while True:
            old = rng.choice(list(used))
            free = [d for d in COMPASS if d not in used[old]]
            if free:
                break
        d = rng.choice(free)  # the new room lies in direction d from the old one
        used[old].add(d)
        used[new] = {OPPOSITE[d]}
        edges.append((new, d, old))
    return edges


def _state(a: str, d: str, b: str, flip: bool) -> str:
    """'The a is d of the b.', or the same fact said from b's side when ``flip``."""
    if flip:
        return f"The {b} is {OPPOSITE[d]} of the {a}."
    return f"The {a} is {d} of the {b}."


# ----------------------------------------------------------------------------------------------------------------
# Task 4: two-argument relations
# ----------------------------------------------------------------------------------------------------------------

def make_two_arg_relations(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 4: two compass facts, one question answered by one of them.

    Release shape: three rooms in a line (both facts on one axis, the middle room shared), e.g. "The office is
    north of the kitchen. The garden is south of the kitchen.", then "What is north of the kitchen?" (said as the
    fact says it) or "What is the kitchen south of?" (the fact turned round). Supported by the one fact used.

    Knobs honoured: ``n_locations`` (rooms to draw from, 3-14; release 6), ``story_length`` (statements, 2-13;
    release 2: more statements make a random tree of rooms on the grid instead of a line).
    """
    n_loc = _check_range("n_locations", knobs.n_locations, 3, len(ROOMS), RELEASE_ROOMS)
    length = _check_range("story_length", knobs.story_length, 2, len(ROOMS) - 1, 2)
    if length + 1 > n_loc:
        raise ValueError(f"story_length={length} needs {length + 1} rooms but n_locations={n_loc}")
    names = ROOMS[:n_loc]
    if length == 2:
        # A line: middle room m, one room on each side along one axis.
        m, a, b = rng.sample(names, 3)
        d = rng.choice(list(COMPASS))
        edges = [(a, d, m), (b, OPPOSITE[d], m)]
        rng.shuffle(edges)
        # In the release the shared (middle) room is the subject of a fact about 35% of the time.
        lines = [Line(_state(x, dd, y, flip=rng.random() < 0.35)) for x, dd, y in edges]
    else:
        edges = _grid_tree(rng, length + 1, names)
        rng.shuffle(edges)
        lines = [Line(_state(x, dd, y, flip=rng.random() < 0.5)) for x, dd, y in edges]
    k = rng.randrange(len(lines))
    subj, _, rest = lines[k].text[len("The "):].partition(" is ")
    d, _, obj = rest[:-1].partition(" of the ")
    if rng.random() < 0.5:
        q = f"What is {d} of the {obj}?"  # the fact as stated
    else:
        q = f"What is the {obj} {OPPOSITE[d]} of?"  # the fact turned round
    return lines + [Line(q, subj, (k + 1,))]


# ----------------------------------------------------------------------------------------------------------------
# Task 15: basic deduction
# ----------------------------------------------------------------------------------------------------------------

# (plural, singular) of the release's four animals.
FEAR_ANIMALS = [("mice", "mouse"), ("cats", "cat"), ("sheep", "sheep"), ("wolves", "wolf")]
FEAR_NAMES = ["Gertrude", "Winona", "Emily", "Jessica", "Lucy", "Nora", "Ruth", "Agnes"]


def make_basic_deduction(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 15: "Mice are afraid of wolves. Gertrude is a mouse. What is gertrude afraid of? wolf".

    Release shape: one fear fact per animal (never afraid of its own kind), one "X is a <animal>" per person, shuffled
    so that a person's fact comes after the fear fact of their animal (the release always satisfies this; rejection
    sampling a uniform shuffle reproduces its order and animal-mix statistics). Then 4 questions about random
    people, supported by (person fact, fear fact).

    Knobs honoured: ``n_actors`` (people, 1-8; release 4).
    """
    n_people = _check_range("n_actors", knobs.n_actors, 1, len(FEAR_NAMES), 4)
    n_animals = len(FEAR_ANIMALS)
    people = rng.sample(FEAR_NAMES[:max(n_people, 4)], n_people)
    fears = [rng.choice([j for j in range(n_animals) if j != i]) for i in range(n_animals)]
    items = [("fear", i) for i in range(n_animals)] + [("isa", p) for p in range(n_people)]
    while True:
        # Draw animals and order together and reject both: this favours people sharing early-stated animals, as
        # in the release (drawing animals once and reshuffling only the order would not).
        kinds = [rng.randrange(n_animals) for _ in people]
        rng.shuffle(items)
        pos = {it: k for k, it in enumerate(items)}
        if all(pos[("isa", p)] > pos[("fear", kinds[p])] for p in range(n_people)):
            break
    lines = []
    for kind, i in items:
        if kind == "fear":
            lines.append(Line(f"{FEAR_ANIMALS[i][0].capitalize()} are afraid of {FEAR_ANIMALS[fears[i]][0]}."))
        else:
            lines.append(Line(f"{people[i]} is a {FEAR_ANIMALS[kinds[i]][1]}."))
    for _ in range(4):
        p = rng.randrange(n_people)
        animal = kinds[p]
        lines.append(Line(f"What is {people[p].lower()} afraid of?", FEAR_ANIMALS[fears[animal]][1],
                          (pos[("isa", p)] + 1, pos[("fear", animal)] + 1)))
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Task 16: basic induction
# ----------------------------------------------------------------------------------------------------------------

INDUCTION_ANIMALS = ["frog", "lion", "swan", "rhino"]
INDUCTION_COLOURS = ["green", "white", "gray", "yellow"]
INDUCTION_NAMES = ["Lily", "Bernhard", "Brian", "Julius", "Greg", "Emma", "Max", "Otto"]
# Where the asked-about person's only fact ("X is a swan.") falls among 9 statements, counted in the release:
# usually late, a third of the time last.
_TARGET_POS_WEIGHTS = [60, 55, 66, 63, 73, 102, 115, 153, 313]


def make_basic_induction(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 16: "Lily is a swan. Lily is green. Greg is a swan. What color is Greg? green".

    Release shape: 5 people; 4 get "X is a <animal>." then later "X is <colour>.", the asked person only the animal
    fact. Usually (89%) exactly one other person shares the asked person's animal and the rest have other animals;
    sometimes (10%) three others share it, rarely (1%) all do, and then colours may disagree: the release answers
    with the colour of the sharing person whose animal fact comes last, and so do we. Supports are (asked person's
    animal fact, that person's animal fact, their colour fact). Colours follow the animal loosely: each animal has
    a colour its members take 70% of the time, otherwise a random one (the release's agreement rates).

    Knobs honoured: ``n_actors`` (people, 2-8; release 5); statements are 2 * n_actors - 1.
    """
    n_people = _check_range("n_actors", knobs.n_actors, 2, len(INDUCTION_NAMES), 5)
    n_col = n_people - 1  # people with a colour
    names = rng.sample(INDUCTION_NAMES[:max(n_people, 5)], n_people)
    target, others = names[0], names[1:]
    # Order of the coloured people's facts: each step states a random available fact (an animal fact for someone
    # not yet introduced, or a colour fact for someone introduced but not yet coloured).
    order: list[tuple[str, int]] = []
    introduced: list[int] = []
    coloured: set[int] = set()
    while len(order) < 2 * n_col:
        avail = [("isa", p) for p in range(n_col) if p not in introduced]
        avail += [("col", p) for p in introduced if p not in coloured]
        kind, p = rng.choice(avail)
        order.append((kind, p))
        (introduced.append if kind == "isa" else coloured.add)(p)
    if n_people == 5:
        at = rng.choices(range(9), weights=_TARGET_POS_WEIGHTS)[0]
    else:
        at = rng.randrange(len(order) + 1)
    order.insert(at, ("isa", -1))
    # Animals: how many of the coloured people share the asked person's animal.
    animal = rng.randrange(len(INDUCTION_ANIMALS))
    r = rng.random()
    n_same = min(1 if r < 0.89 else (3 if r < 0.987 else n_col), n_col)
    same = set(rng.sample(range(n_col), n_same))
    rest = [a for a in range(len(INDUCTION_ANIMALS)) if a != animal]
    kinds = {p: (animal if p in same else rng.choice(rest)) for p in range(n_col)}
    kinds[-1] = animal
    usual = [rng.randrange(len(INDUCTION_COLOURS)) for _ in INDUCTION_ANIMALS]
    colours = {p: (usual[kinds[p]] if rng.random() < 0.7 else rng.randrange(len(INDUCTION_COLOURS)))
               for p in range(n_col)}
    lines, isa_id, col_id = [], {}, {}
    for kind, p in order:
        name = target if p == -1 else others[p]
        if kind == "isa":
            lines.append(Line(f"{name} is a {INDUCTION_ANIMALS[kinds[p]]}."))
            isa_id[p] = len(lines)
        else:
            lines.append(Line(f"{name} is {INDUCTION_COLOURS[colours[p]]}."))
            col_id[p] = len(lines)
    evidence = max(same, key=lambda p: isa_id[p])
    lines.append(Line(f"What color is {target}?", INDUCTION_COLOURS[colours[evidence]],
                      (isa_id[-1], isa_id[evidence], col_id[evidence])))
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Task 17: positional reasoning
# ----------------------------------------------------------------------------------------------------------------

SHAPES = ["triangle", "pink rectangle", "red sphere", "red square", "blue square", "yellow square",
          "green circle", "blue triangle"]
RELEASE_SHAPES = 6
# Positional relations as unit steps: "A is <rel> the B" puts A one step from B.
POSITIONS = {"above": (0, 1), "below": (0, -1), "to the left of": (-1, 0), "to the right of": (1, 0)}


def make_positional_reasoning(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 17: "The triangle is above the pink rectangle. The blue square is to the left of the triangle.
    Is the pink rectangle to the right of the blue square? yes".

    Release shape: a chain of 3 shapes on a grid, each fact a unit step (a fact names the shared middle shape as its
    subject 65% of the time); 8 yes/no questions about the two end shapes, each a yes with probability 1/2 (picked
    uniformly among the relation/order choices with that answer). Supports run from the fact that mentions the
    question's first shape along the chain.

    Knobs honoured: ``n_supporting`` (facts in the chain, 2-5; release 2), ``n_objects`` (shapes to draw from,
    n_supporting + 1 to 8; release 6).
    """
    k = _check_range("n_supporting", knobs.n_supporting, 2, 5, 2)
    n_obj = _check_range("n_objects", knobs.n_objects, k + 1, len(SHAPES), max(RELEASE_SHAPES, k + 1))
    while True:
        chain = rng.sample(SHAPES[:n_obj], k + 1)
        pos = [(0, 0)]
        steps = []
        for _ in range(k):
            rel = rng.choice(list(POSITIONS))
            dx, dy = POSITIONS[rel]
            steps.append(rel)  # chain[i + 1] is rel chain[i]
            pos.append((pos[-1][0] + dx, pos[-1][1] + dy))
        if len(set(pos)) == len(pos):  # no two shapes on one spot
            break
    # Facts along the chain, in random order; fact i relates chain[i] and chain[i + 1].
    facts = []
    for i, rel in enumerate(steps):
        a, b = chain[i + 1], chain[i]
        # Say it from the other side (b is <inverse> a) sometimes; with 2 facts the release names the middle shape
        # as subject 65% of the time.
        middle_subject = rng.random() < 0.65
        flip = (i == 0) != middle_subject if k == 2 else rng.random() < 0.5
        if flip:
            inverse = {"above": "below", "below": "above", "to the left of": "to the right of",
                       "to the right of": "to the left of"}[rel]
            facts.append((i, f"The {b} is {inverse} the {a}."))
        else:
            facts.append((i, f"The {a} is {rel} the {b}."))
    rng.shuffle(facts)
    lines = [Line(text) for _, text in facts]
    line_of = {i: n + 1 for n, (i, _) in enumerate(facts)}
    ends = (0, k)
    candidates = {True: [], False: []}
    for first, second in (ends, ends[::-1]):
        for rel, (dx, dy) in POSITIONS.items():
            px, py = pos[first]
            qx, qy = pos[second]
            truth = (px - qx) * dx > 0 if dx else (py - qy) * dy > 0
            candidates[truth].append((first, rel, second))
    for _ in range(8):
        answer = rng.random() < 0.5
        first, rel, second = rng.choice(candidates[answer])
        path = range(k) if first == 0 else range(k - 1, -1, -1)
        lines.append(Line(f"Is the {chain[first]} {rel} the {chain[second]}?", "yes" if answer else "no",
                          tuple(line_of[i] for i in path)))
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Task 18: size reasoning
# ----------------------------------------------------------------------------------------------------------------

# The release's sizes: the chocolate is smallest, then the box of chocolates; the four big containers come in a new
# random order in each story.
SMALL_THINGS = ["chocolate", "box of chocolates"]
BIG_THINGS = ["box", "chest", "container", "suitcase"]


def _size_paths(facts: list[tuple[int, int]], hops: int) -> dict[tuple[int, int], list[tuple[int, ...]]]:
    """All chains of exactly ``hops`` facts (by index) from a smaller thing to a bigger one, keyed (small, big).
    ``facts[i] = (small, big)`` by size rank; a chain climbs through distinct things."""
    up: dict[int, list[int]] = {}
    for i, (s, _) in enumerate(facts):
        up.setdefault(s, []).append(i)
    found: dict[tuple[int, int], list[tuple[int, ...]]] = {}

    def walk(start: int, at: int, used: tuple[int, ...]) -> None:
        if len(used) == hops:
            found.setdefault((start, at), []).append(used)
            return
        for i in up.get(at, ()):
            walk(start, facts[i][1], used + (i,))

    for s in {s for s, _ in facts}:
        walk(s, s, ())
    return found


def make_size_reasoning(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 18: "The suitcase fits inside the chest. The chocolate fits inside the suitcase.
    Does the chocolate fit in the chest? yes".

    Release shape: facts are random pairs of the six things (repeats allowed), said as "X fits inside Y." or
    "Y is bigger than X." with equal chance. Facts come in blocks of 5; while no two facts chain (small < middle <
    big) another block is added (78% of stories have 5 facts, 20% have 10). Then 5 questions "Does X fit in Y?" /
    "Is X bigger than Y?" about pairs joined by a chain, drawn from two pairs picked per story (so a story keeps
    asking about the same pairs, as in the release). Supports are the chain's facts, from the big end for a "yes"
    and from the small end for a "no" (the release's order).

    Knobs honoured: ``story_length`` (facts per block, 2-20; release 5), ``n_supporting`` (facts in a chain, 2-5;
    release 2).
    """
    block = _check_range("story_length", knobs.story_length, 2, 20, 5)
    hops = _check_range("n_supporting", knobs.n_supporting, 2, 5, 2)
    if block < hops:
        raise ValueError(f"story_length={block} is shorter than n_supporting={hops}")
    big = BIG_THINGS[:]
    rng.shuffle(big)
    things = SMALL_THINGS + big  # index = size rank
    n = len(things)
    facts: list[tuple[int, int]] = []
    lines: list[Line] = []
    for _ in range(100):
        for _ in range(block):
            a, b = sorted(rng.sample(range(n), 2))
            facts.append((a, b))
            if rng.random() < 0.5:
                lines.append(Line(f"The {things[a]} fits inside the {things[b]}."))
            else:
                lines.append(Line(f"The {things[b]} is bigger than the {things[a]}."))
        paths = _size_paths(facts, hops)
        if paths:
            break
    else:  # pragma: no cover - a chain shows up within a few blocks
        raise RuntimeError("no chain of facts found")
    pairs = sorted(paths)
    pool = [rng.choice(pairs) for _ in range(2)]
    for _ in range(5):
        small, bigger = rng.choice(pool)
        chain = rng.choice(paths[(small, bigger)])  # fact indices from the small end up
        x, y = (small, bigger) if rng.random() < 0.5 else (bigger, small)
        if rng.random() < 0.5:
            q, yes = f"Does the {things[x]} fit in the {things[y]}?", x == small
        else:
            q, yes = f"Is the {things[x]} bigger than the {things[y]}?", x == bigger
        ids = [i + 1 for i in chain]
        lines.append(Line(q, "yes" if yes else "no", tuple(ids[::-1] if yes else ids)))
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Task 19: path finding
# ----------------------------------------------------------------------------------------------------------------

DIRECTION_LETTER = {"north": "n", "south": "s", "east": "e", "west": "w"}


def make_path_finding(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 19: "The kitchen is north of the office. The office is west of the garden.
    How do you go from the kitchen to the garden? s,e".

    Release shape: 6 rooms joined by 5 compass facts into a tree on a grid (new rooms hang off random rooms, in a
    direction that room does not use yet), facts in random order and said from either side; one question about two
    rooms 2 steps apart. The answer is the directions comma-joined; supports are the facts along the path in order.

    Knobs honoured: ``n_locations`` (rooms, 3-14; release 6), ``story_length`` (facts, = n_locations - 1; release
    5), ``n_supporting`` (steps in the path, 1 to rooms - 1; release 2).
    """
    # A tree of n rooms has n - 1 facts, so story_length and n_locations say the same thing; either may be given.
    facts = _check_range("story_length", knobs.story_length, 2, len(ROOMS) - 1, RELEASE_ROOMS - 1)
    if knobs.story_length is not None and knobs.n_locations is not None and facts != knobs.n_locations - 1:
        raise ValueError(f"story_length={facts} must be n_locations - 1 = {knobs.n_locations - 1}")
    n_rooms = _check_range("n_locations", knobs.n_locations, 3, len(ROOMS), facts + 1)
    steps = _check_range("n_supporting", knobs.n_supporting, 1, n_rooms - 1, 2)
    names = ROOMS[:max(n_rooms, RELEASE_ROOMS)]
    while True:
        edges = _grid_tree(rng, n_rooms, names)
        # Moves between neighbouring rooms: (from, to) -> (direction letter, edge index).
        moves: dict[str, list[tuple[str, str, int]]] = {}
        for i, (a, d, b) in enumerate(edges):
            moves.setdefault(b, []).append((a, DIRECTION_LETTER[d], i))
            moves.setdefault(a, []).append((b, DIRECTION_LETTER[OPPOSITE[d]], i))
        # Every path of exactly `steps` moves that never turns back.
        paths = []

        def walk(path: list[str], dirs: list[str], used: list[int]) -> None:
            if len(used) == steps:
                paths.append((path[0], path[-1], dirs, used))
                return
            for nxt, letter, i in moves[path[-1]]:
                if nxt not in path:
                    walk(path + [nxt], dirs + [letter], used + [i])

        for start in moves:
            walk([start], [], [])
        if paths:
            break
    src, dst, dirs, used = rng.choice(paths)
    order = list(range(len(edges)))
    rng.shuffle(order)
    line_of = {e: n + 1 for n, e in enumerate(order)}
    lines = [Line(_state(*edges[e], flip=rng.random() < 0.5)) for e in order]
    lines.append(Line(f"How do you go from the {src} to the {dst}?", ",".join(dirs),
                      tuple(line_of[i] for i in used)))
    return lines


# ----------------------------------------------------------------------------------------------------------------
# Task 20: agents' motivations
# ----------------------------------------------------------------------------------------------------------------

# motivation -> (place it sends you to, thing you get there)
MOTIVATIONS = {"hungry": ("kitchen", "apple"), "thirsty": ("kitchen", "milk"),
               "tired": ("bedroom", "pajamas"), "bored": ("garden", "football")}
AGENTS = ["Sumit", "Yann", "Jason", "Antoine", "Mary", "Daniel"]
GO_VERBS = ["went to", "went back to", "travelled to", "journeyed to", "moved to"]
GET_VERBS = ["got", "grabbed", "took", "picked up"]


def make_agents_motivations(rng: random.Random, knobs: Knobs) -> list[Line]:
    """Task 20: "Sumit is tired. Where will sumit go? bedroom. Sumit went back to the bedroom. Why did sumit go to the
    bedroom? tired. Sumit grabbed the pajamas there. Why did sumit get the pajamas? tired".

    Release shape: 4 people, each with a random motivation (not all the same), each going through "is <motivation>",
    "<go> to <place>", "<get> the <thing> there"; at each step a random person who is not finished takes their next
    step. There is one of each thing, so someone who comes for a thing already taken does nothing more. Every
    statement is followed by its question, supported by the motivation statement.

    Knobs honoured: ``n_actors`` (people, 1-6; release 4).
    """
    n_people = _check_range("n_actors", knobs.n_actors, 1, len(AGENTS), 4)
    people = rng.sample(AGENTS[:max(n_people, 4)], n_people)
    names = list(MOTIVATIONS)
    while True:
        mots = [rng.choice(names) for _ in people]
        if n_people == 1 or len(set(mots)) > 1:  # the release never gives everyone the same motivation
            break
    step = [0] * n_people
    said_at = [0] * n_people
    taken: set[str] = set()
    active = list(range(n_people))
    lines: list[Line] = []
    while active:
        p = rng.choice(active)
        name, low, mot = people[p], people[p].lower(), mots[p]
        place, thing = MOTIVATIONS[mot]
        if step[p] == 0:
            lines.append(Line(f"{name} is {mot}."))
            said_at[p] = len(lines)
            lines.append(Line(f"Where will {low} go?", place, (said_at[p],)))
        elif step[p] == 1:
            lines.append(Line(f"{name} {rng.choice(GO_VERBS)} the {place}."))
            lines.append(Line(f"Why did {low} go to the {place}?", mot, (said_at[p],)))
        else:
            active.remove(p)
            if thing in taken:
                continue
            taken.add(thing)
            lines.append(Line(f"{name} {rng.choice(GET_VERBS)} the {thing} there."))
            lines.append(Line(f"Why did {low} get the {thing}?", mot, (said_at[p],)))
        step[p] += 1
    return lines


STORY_MAKERS: dict[int, StoryMaker] = {
    4: make_two_arg_relations,
    15: make_basic_deduction,
    16: make_basic_induction,
    17: make_positional_reasoning,
    18: make_size_reasoning,
    19: make_path_finding,
    20: make_agents_motivations,
}
