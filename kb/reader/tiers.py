"""Reader examples over tiered tables: the question names a number ("after 6 years", "a £12,000 order") and
the answer is the row whose range holds it ("5 to 7 years", "£10,000 to £24,999"), never the row that repeats
the number's neighbours.

Company policies set entitlements, limits and approvals by bands of service, salary, distance or amount; the
business documents the reader learns from (``kb.reader.business``) hold almost no such table, so these are
composed: a passage as the product's chunker writes a ruled table (title and heading, a lead-in sentence, one
"Header: value; Header: value" line per row), 3 to 5 bands in one of several ways of writing a range, and a
question as employees ask it. A third of them lose the answering row: the near-miss rows remain and the passage
no longer answers. Seeded: the same seed gives the same examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from kb.reader.data import ReaderExample
from kb.types import embedding_text


@dataclass(frozen=True)
class Tiering:
    """One kind of tiered table: what the bands measure, what each band gets, and how people ask."""

    key_header: str
    unit: str  # after the number ("years"), or a currency sign before it ("£")
    value_header: str
    value: Callable[[random.Random, int], str]  # the value of band i (0 = lowest)
    questions: tuple[str, ...]  # with {n} (the number as written) and {u} (its unit)
    heading: str
    starts: tuple[int, ...] = (2, 3)  # the first band boundary, drawn from these (at least 2)
    step: tuple[int, ...] = (2, 3, 5)  # band widths, drawn from these


def _days(base: tuple[int, ...], step: int = 1) -> Callable[[random.Random, int], str]:
    return lambda rng, i: f"{rng.choice(base) + i * step} days"


def _money(sign: str, low: int, high: int, scale: int) -> Callable[[random.Random, int], str]:
    return lambda rng, i: f"{sign}{(rng.randrange(low, high) + i * (high - low)) * scale:,}"


TIERINGS = (
    Tiering("Completed years of service", "years", "Annual leave per year", _days((20, 22, 24, 25)),
            ("How many days of annual leave do I get after {n} years of service?", "annual leave after {n} years",
             "i have worked here {n} years, how much holiday do i get", "holiday entitlement with {n} yrs service"),
            "Annual leave entitlement"),
    Tiering("Length of service", "years", "Notice period", lambda rng, i: f"{i + rng.choice((1, 2))} months",
            ("What notice period applies after {n} years of service?", "notice period {n} years service",
             "how much notice do i have to give after {n} years here"), "Notice periods"),
    Tiering("Continuous service", "months", "Weeks at full pay", lambda rng, i: f"{(i + 1) * rng.choice((2, 4))} weeks",
            ("How many weeks of full sick pay after {n} months of service?", "sick pay full pay {n} months service",
             "ive been here {n} months, how long do i get full pay if im off sick"), "Company sick pay",
            starts=(3, 6), step=(6, 12, 18)),
    Tiering("Annual salary", "£", "Employer pension contribution", lambda rng, i: f"{3 + i * rng.choice((1, 2))}%",
            ("What pension contribution does the company make on a salary of {n}?", "employer pension {n} salary",
             "i earn {n} a year, what does the company put in my pension"), "Pension contributions",
            starts=(20_000, 25_000, 30_000), step=(10_000, 15_000, 20_000)),
    Tiering("Distance moved", "miles", "Relocation allowance", _money("£", 1, 4, 1_000),
            ("What relocation allowance do I get if I move {n} miles?", "relocation allowance {n} miles",
             "moving {n} miles for the job how much relocation money"), "Relocation support",
            starts=(20, 50), step=(30, 50, 100)),
    Tiering("Trip length", "nights", "Daily allowance", _money("€", 3, 6, 10),
            ("What is the daily allowance for a trip of {n} nights?", "daily allowance {n} night trip",
             "going away for {n} nights, what's my per diem"), "Daily allowances", starts=(2, 3), step=(2, 4, 7)),
    Tiering("Order value", "£", "Approved by", lambda rng, i: ("Line manager", "Head of Department",
                                                               "Finance Director", "Chief Executive",
                                                               "the Board")[i],
            ("Who approves an order of {n}?", "approval for a {n} purchase", "who signs off {n} spend"),
            "Approval limits", starts=(1_000, 5_000), step=(5_000, 20_000, 50_000)),
    Tiering("Hours worked per week", "hours", "Paid breaks per day", lambda rng, i: f"{(i + 1) * 15} minutes",
            ("How long are paid breaks if I work {n} hours a week?", "paid breaks {n} hours per week",
             "i do {n} hours a week how much break do i get"), "Breaks", starts=(10, 16), step=(6, 8)),
    Tiering("Number of direct reports", "people", "Management allowance", _money("£", 1, 3, 50),
            ("What management allowance do I get with {n} direct reports?", "management allowance {n} reports",
             "i manage {n} people, is there an allowance"), "Management allowance", starts=(2, 3), step=(3, 5)),
    Tiering("Age", "years", "Life cover", lambda rng, i: f"{max(1, 4 - i)} times salary",
            ("How much life cover do I get at age {n}?", "life cover age {n}", "im {n}, whats my life cover"),
            "Life assurance", starts=(30, 40), step=(10, 15)),
    Tiering("Years in role", "years", "Training budget per year", _money("$", 5, 9, 100),
            ("What is the training budget after {n} years in the role?", "training budget {n} years in role",
             "been in my role {n} years how much training budget"), "Learning budget"),
    Tiering("Team size", "people", "Team events budget", _money("€", 2, 5, 100),
            ("What is the team events budget for a team of {n} people?", "events budget team of {n}",
             "we're {n} people in the team, what can we spend on team events"), "Team events",
            starts=(5, 8), step=(5, 10)),
)
_COMPANIES = ("Harbour Logistics", "Brightwell Foods", "Norcastle Engineering", "Kestrel Insurance",
              "Tamsin Health", "Oakridge Retail", "Velora Software", "Greyfield Energy", "Ashdown Legal",
              "Pemberton Labs", "Riverside Housing", "Quillon Media")
_POLICIES = ("Employee Handbook", "Benefits Guide", "People Policy", "Staff Terms", "Reward Policy",
             "Finance Procedures")


def _number(unit: str, n: int) -> str:
    return f"{unit}{n:,}" if unit in "£$€" else f"{n}"


def _span(unit: str, low: int, high: int | None, first: bool, rng: random.Random) -> str:
    """One band as a row key: "Less than 3 years", "3 to 4 years", "£10,000–£24,999", "8 years or more"."""
    money = unit in "£$€"
    word = "" if money else f" {unit}"
    if first:
        return rng.choice((f"Less than {_number(unit, high + 1)}{word}", f"Up to {_number(unit, high)}{word}",
                           f"Under {_number(unit, high + 1)}{word}"))
    if high is None:
        return rng.choice((f"{_number(unit, low)}{word} or more", f"More than {_number(unit, low - 1)}{word}",
                           f"{_number(unit, low)}+{word}", f"Over {_number(unit, low - 1)}{word}"))
    return rng.choice((f"{_number(unit, low)} to {_number(unit, high)}{word}",
                       f"{_number(unit, low)}–{_number(unit, high)}{word}",
                       f"{_number(unit, low)}-{_number(unit, high)}{word}",
                       f"From {_number(unit, low)} to {_number(unit, high)}{word}"))


def tier_example(rng: random.Random, qid: str) -> ReaderExample:
    tiering = rng.choice(TIERINGS)
    bands = rng.randrange(3, 6)
    bounds = [rng.choice(tiering.starts)]
    for _ in range(bands - 2):
        bounds.append(bounds[-1] + rng.choice(tiering.step))
    ranges = [(0, bounds[0] - 1)] + [(a, b - 1) for a, b in pairwise(bounds)] + [(bounds[-1], None)]
    rows = [f"{tiering.key_header}: {_span(tiering.unit, low, high, i == 0, rng)}; "
            f"{tiering.value_header}: {tiering.value(rng, i)}" for i, (low, high) in enumerate(ranges)]
    target = rng.randrange(len(ranges))
    low, high = ranges[target]
    n = rng.randint(max(low, 1), high if high is not None else low + max(tiering.step))
    unit = tiering.unit if tiering.unit not in "£$€" else ""
    question = rng.choice(tiering.questions).format(n=_number(tiering.unit, n), u=unit)
    heading = f"{rng.randrange(1, 9)}.{rng.randrange(1, 6)} {tiering.heading}"
    lead = rng.choice((f"The {tiering.value_header.lower()} depends on {tiering.key_header.lower()}:",
                       f"{tiering.value_header} is set by {tiering.key_header.lower()}, as follows.",
                       f"The table below sets out the {tiering.value_header.lower()}."))
    title = f"{rng.choice(_COMPANIES)} {rng.choice(_POLICIES)}"
    if rng.random() < 1 / 3:  # the near miss: the answering row is gone, its neighbours stay
        kept = rows[:target] + rows[target + 1:]
        text = f"{heading}\n{lead}\n\n" + "\n\n".join(kept)
        return ReaderExample(question, embedding_text(title, (heading,), text), -1, "", qid, "tier-miss")
    text = f"{heading}\n{lead}\n\n" + "\n\n".join(rows)
    passage = embedding_text(title, (heading,), text)
    row_at = passage.index(rows[target])
    answer = rows[target].split(f"{tiering.value_header}: ", 1)[1]
    start = row_at + rows[target].index(f"{tiering.value_header}: ") + len(tiering.value_header) + 2
    return ReaderExample(question, passage, start, answer, qid, "tier")


def tier_examples(count: int, seed: int = 0) -> list[ReaderExample]:
    rng = random.Random(f"tiers-{seed}")
    return [tier_example(rng, f"tier-{seed}-{i}") for i in range(count)]
