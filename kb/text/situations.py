"""Questions the way employees ask them: a situation first, then the question.

"I left my laptop on the train. How soon must I report it?" — people tell what happened before they ask, and
what they tell (the laptop, the train, a grandmother, a reporter on the phone) is rarely in the passage that
answers. The reader and the judge, trained on SQuAD 2.0, have only seen one-sentence questions, and learnt
there that words the passage lacks mean "no answer" (the adversarial unanswerable questions are made by changing an
entity of the question): measured on the shipped reader, "How soon must a lost or stolen device be reported?"
finds "1 hour" by a margin of 6.6 over "no answer", and "My manager is away today. How soon must a lost or
stolen device be reported?" falls to -1.6; the shipped judge scores the answer sentence 0.86 for the plain
question and 0.08 for "I left my laptop on the train. How soon must I report it?".

``situated`` tells such a situation around a training question — before it, or after it as the reason for
asking — drawn from a combinatorial bank (who, what happened, to what, where), unrelated to the passage, so the
models learn that the situation neither answers the question nor makes it unanswerable. Training applies it
alike to answerable and unanswerable questions, so a situation is never a hint either way.
"""

from __future__ import annotations

import random

_OPENERS = ("", "", "", "Hi, ", "Hello, ", "Quick question: ", "Sorry if this is obvious. ", "Hey team, ",
            "Good morning. ", "Help please! ", "One more thing: ")
_PEOPLE = ("I", "My manager", "A colleague", "My team lead", "A new starter on my team", "My partner",
           "A customer", "Our contractor", "My line manager", "Someone in my team", "We")
_OWNERS = {"I": "my", "We": "our"}
_THINGS = ("laptop", "phone", "badge", "car", "bag", "passport", "keys", "wallet", "tablet", "headset",
           "access card", "work phone", "suitcase", "bike", "umbrella", "notebook", "charger", "ID card")
_PLACES = ("on the train", "at the airport", "in a taxi", "at home", "in the office", "at a hotel", "on the bus",
           "at the client's site", "in the car park", "at a conference", "in the canteen", "abroad")
_EVENTS = (
    "left {own} {thing} {place}", "lost {own} {thing} {place}", "broke {own} {thing}",
    "had {own} {thing} stolen {place}", "spilled coffee on {own} {thing}", "forgot {own} {thing} {place}",
    "started here last week", "moved to the {city} office", "came back from holiday yesterday",
    "is travelling to {city} next month", "got an email about this", "was asked about this in a meeting",
    "is working from home today", "has a doctor's appointment tomorrow", "is writing a report",
    "got a call from a supplier", "is new to the team", "was off sick last week", "had a baby",
    "is moving house", "is preparing a presentation", "just got promoted", "is planning a trip {place}",
    "was reading about this", "heard something different from a colleague", "has an exam on Friday",
    "is going part time", "changed teams in {month}", "is filling in a form", "works night shifts",
)
# the events' verbs as "I" and "We" say them (every other subject keeps the third person)
_FIRST_PERSON = {"is": {"I": "am", "We": "are"}, "has": {"I": "have", "We": "have"},
                 "works": {"I": "work", "We": "work"}, "was": {"We": "were"}}
_CITIES = ("Leeds", "London", "Paris", "Berlin", "New York", "Tokyo", "Madrid", "Chicago", "Dublin", "Munich")
_MONTHS = ("January", "March", "May", "July", "September", "November")
_REASONS = ("asking because {who} {event}", "{who} {event}", "just wondering, {who} {event}", "context: {who} {event}")


def situation(rng: random.Random) -> tuple[str, str]:
    """(who, what happened): one first-person or third-person situation from the bank."""
    who = rng.choice(_PEOPLE)
    event = rng.choice(_EVENTS).format(own=_OWNERS.get(who, "their"), thing=rng.choice(_THINGS),
                                        place=rng.choice(_PLACES), city=rng.choice(_CITIES), month=rng.choice(_MONTHS))
    verb, rest = event.split(" ", 1)
    return who, f"{_FIRST_PERSON.get(verb, {}).get(who, verb)} {rest}"


def situated(question: str, rng: random.Random) -> str:
    """``question`` with a situation told before it (three times in four) or after it as the reason."""
    who, event = situation(rng)
    if rng.random() < 0.75:
        opener = rng.choice(_OPENERS)
        told = f"{opener}{who if who == 'I' or not opener.endswith(', ') else who.lower()} {event}."
        if rng.random() < 0.3:  # two sentences of situation
            other_who, other = situation(rng)
            told += f" {other_who} {other}."
        return f"{told} {question}"
    reason = rng.choice(_REASONS).format(who=who if who == "I" else who.lower(), event=event)
    return f"{question.rstrip()} ({reason})" if rng.random() < 0.5 else f"{question.rstrip()} {reason}"
