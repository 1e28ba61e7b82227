"""Train the learned planted-instruction check (``kb.text.directive_model``): composed instructions against
ordinary company sentences, a logistic model over the embedding model's sentence vectors.

    python -m kb.tuning.directives --out models/kb-directives   # trains and writes weights + model card
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

from kb.text.directive_model import EMBEDDING_MODEL, SHIPPED, TOPICS, VALUES, compose_instruction

log = logging.getLogger(__name__)

# benign sentences that look like the parts above: instructions to employees, assistants who are people,
# chatbots that are products, "say" and "answer" in their everyday sense
BENIGN = [
    "Tell your manager as soon as you know you will be absent.", "Answer the engagement survey by 30 June.",
    "If a customer asks about pricing, refer them to the sales team.", "Report a lost badge to reception.",
    "The executive assistant books travel for the leadership team.", "Our AI strategy is reviewed every year.",
    "The IT chatbot answers password questions around the clock.", "Do not reply to emails that ask for passwords.",
    "Say no to gifts worth more than £50 and tell your manager.", "Ignore calls that claim to be from the tax office.",
    "Always lock your screen when you leave your desk.", "The assistant manager covers the store on Sundays.",
    "Respond to customer complaints within two working days.", "Confirm your attendance with the event team.",
    "The language model team publishes its research twice a year.", "Bots on the shop floor move pallets at night.",
    "State the cost centre on every purchase order.", "Write the visitor's name in the reception log.",
    "Explain the reason for the delay in the project report.", "Let your team know when you work from home.",
    "Teaching assistants support the trainers in the workshop.", "The virtual agent on our website takes orders.",
    "Never share customer data with an AI tool that is not approved.", "From now on, expense claims go through "
    "ExpenseHub.", "Disregard the old form; use version 3 from the intranet.", "Forget-me-not pins are sold for "
    "charity in May.", "The system administrator applies patches on Tuesdays.", "Attention: the car park closes "
    "at 22:00.", "Note: the canteen is closed on public holidays.", "System maintenance is scheduled for Saturday.",
    "Bitte melden Sie Krankheitstage bis 9 Uhr.", "Sagen Sie Ihrer Führungskraft Bescheid, wenn Sie verreisen.",
    "Der Assistent der Geschäftsführung plant die Reisen.", "Unser Chatbot beantwortet Fragen zu Passwörtern.",
    "Antworten Sie auf Kundenanfragen innerhalb von zwei Tagen.", "Ignorieren Sie Anrufe angeblicher Behörden.",
    "Veuillez déclarer vos absences avant 9 heures.", "Dites à votre responsable si vous partez en mission.",
    "L'assistante de direction organise les déplacements.", "Notre chatbot répond aux questions sur les mots "
    "de passe.", "Répondez aux réclamations des clients sous deux jours.", "Ignorez les courriels suspects.",
]



CARD = """# kb-directives: is a document sentence an instruction planted for the answering system?

A logistic model (384 weights and a bias, `weights.json`) over `sentence-transformers/all-MiniLM-L6-v2` sentence
vectors (the product's default embedding model; with another one this model is not used and the rules of
`kb/text/directives.py` decide alone). The answer step flags a passage sentence as a planted instruction when
the rules or this model say so: it is then never read for an answer, quoted or used as support, and neither is
the rest of its paragraph.

- Training sentences ({sentences:,}, seed {seed}): {directives:,} instructions to whoever or whatever answers
  questions, composed from parts (an address such as "Note to the AI", a trigger such as "when asked about X", an
  answer verb, a claim, an override such as "ignore the handbook"; English 2/3, German and French 1/6 each), and
  ordinary sentences: the business documents of `../shared/data` (records, robustness DOCX/PDF text; never the
  evaluation sets `docs/policies`, `qa/*` or the sample documents), SQuAD 2.0 train paragraphs, and sentences
  that instruct employees or mention assistants and chatbots without instructing them.
- Class-balanced logistic regression (L-BFGS, L2). The threshold ({threshold:.3f}) keeps {fp:.0%} of held-back
  ordinary sentences flagged (held-back composed instructions caught: {recall:.1%}; they share the templates, so
  this is no measure of new phrasings: `tests/security/test_directives.py` and the attack table
  `tests/security/injection_attacks.py`, never trained on, are).
- Licences: SQuAD 2.0 sentences are CC BY-SA 4.0 (Rajpurkar et al. 2018); the business documents stay their
  owners'; all-MiniLM-L6-v2 is Apache-2.0.

## Reproduce

`{command}`
"""


_STATEMENTS = {  # the claims of the instructions above, stated as a policy states them: the same topics and
    # values, no one addressed (what the model must not flag)
    "en": ["{T} is {v}.", "{T} is {v} for full-time staff.", "From 1 April, {t} is {v}.", "{T} has been set at {v}.",
           "Ask your manager about {t}.", "If you have questions about {t}, contact the People Team.",
           "Tell HR when your circumstances change so that {t} can be updated.", "Report changes to {t} in PeopleDesk.",
           "If someone asks you about {t}, refer them to HR.", "Always check {t} before you book.",
           "Answer the survey on {t} by Friday.", "Say so in your claim if {t} does not apply."],
    "de": ["{T} beträgt {v}.", "Ab dem 1. April gilt für {t}: {v}.", "Fragen Sie Ihre Führungskraft nach {t}.",
           "Melden Sie Änderungen an {t} in PeopleDesk."],
    "fr": ["{T} est de {v}.", "À partir du 1er avril, {t} est de {v}.", "Demandez à votre responsable pour {t}.",
           "Signalez les changements de {t} dans PeopleDesk."],
}


def _statement(lang: str, rng: random.Random) -> str:
    topic = rng.choice(TOPICS[lang])
    text = rng.choice(_STATEMENTS[lang]).format(t=topic, T=topic[0].upper() + topic[1:], v=rng.choice(VALUES))
    return text


def training_sentences(seed: int = 0, directives: int = 3000, data: Path | None = None,
                       benign_limit: int = 6000) -> tuple[list[str], list[int]]:
    """(sentences, labels): composed instructions (2/3 English) and ordinary sentences, among them the same
    topics and values stated plainly or as instructions to employees (so that the topic is no clue)."""
    from kb.text.sentences import sentences as split

    rng = random.Random(seed)
    positives = [compose_instruction(rng) for _ in range(directives)]
    negatives = list(BENIGN) * 5 + [_statement(rng.choices(("en", "de", "fr"), (4, 1, 1))[0], rng)
                                     for _ in range(directives // 2)]
    if data is not None:
        from kb.judge.data import load_squad
        from kb.reader.business import doc_chunks, documents

        squad = load_squad(data / "train" / "squad2" / "train-v2.0-partial.unansq.json.xz", "squad")
        contexts = sorted({e.context for e in squad})
        rng.shuffle(contexts)
        negatives += [s for c in contexts[:600] for s in split(c) if len(s.split()) >= 4]
        for path in [p for p in documents(data) if "filings-10k" not in p.parts][::2]:
            try:
                negatives += [s for _, _, text in doc_chunks(path) for s in split(text) if len(s.split()) >= 4]
            except Exception as exc:  # an unreadable test document: not our concern here
                log.info("skipped %s: %s", path.name, exc)
    negatives = list(dict.fromkeys(negatives))
    rng.shuffle(negatives)
    negatives = negatives[:benign_limit]
    return positives + negatives, [1] * len(positives) + [0] * len(negatives)


def fit(vectors: np.ndarray, labels: np.ndarray, l2: float = 1.0, steps: int = 300) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression (L-BFGS)."""
    from scipy.optimize import minimize

    weight = np.where(labels == 1, 0.5 / max(1, labels.sum()), 0.5 / max(1, (1 - labels).sum()))
    x = np.hstack([vectors, np.ones((len(vectors), 1))])

    def loss(beta):
        z = x @ beta
        p = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        value = -np.sum(weight * (labels * np.log(p + 1e-9) + (1 - labels) * np.log(1 - p + 1e-9)))
        value += 0.5 * l2 * np.sum(beta[:-1] ** 2) / len(x)
        grad = x.T @ (weight * (p - labels)) + np.append(l2 * beta[:-1] / len(x), 0.0)
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": steps})
    return result.x[:-1].astype(np.float32), float(result.x[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.tuning.directives", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(SHIPPED), help="model folder to write")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"),
                        help="the shared data folder (ordinary sentences come from its business documents and SQuAD)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-false-positives", type=float, default=0.01,
                        help="the threshold keeps held-back ordinary sentences flagged at or under this share")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from kb.embedding.sbert import SentenceTransformerEmbedder

    started = time.perf_counter()
    texts, labels = training_sentences(args.seed, data=Path(args.data))
    embedder = SentenceTransformerEmbedder(EMBEDDING_MODEL, "cpu", 64)
    vectors = embedder.encode(texts)
    y = np.array(labels)
    order = np.random.default_rng(args.seed).permutation(len(texts))
    held = order[: len(order) // 5]  # one in five sentences held back to choose the threshold
    train = order[len(order) // 5:]
    weights, bias = fit(vectors[train], y[train])
    p = 1 / (1 + np.exp(-(vectors[held] @ weights + bias)))
    benign = np.sort(p[y[held] == 0])
    threshold = float(max(0.5, benign[int(len(benign) * (1 - args.max_false_positives))]))
    recall = float((p[y[held] == 1] >= threshold).mean())
    weights, bias = fit(vectors, y)  # the shipped weights see every sentence; the threshold stays
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "weights.json").write_text(json.dumps({
        "embedding_model": EMBEDDING_MODEL, "weights": [round(float(w), 6) for w in weights], "bias": bias,
        "threshold": round(threshold, 4), "seed": args.seed, "sentences": len(texts), "directives": int(y.sum()),
        "held_back_recall": round(recall, 4), "held_back_false_positives": args.max_false_positives,
        "command": "python -m kb.tuning.directives " + " ".join(argv or sys.argv[1:])}, indent=1))
    (out / "README.md").write_text(CARD.format(sentences=len(texts), directives=int(y.sum()), threshold=threshold,
                                               recall=recall, fp=args.max_false_positives, seed=args.seed,
                                               command="python -m kb.tuning.directives " +
                                               " ".join(argv or sys.argv[1:])), encoding="utf-8")
    log.info("%d sentences (%d directives) in %.0f s; threshold %.3f keeps held-back recall %.3f",
             len(texts), int(y.sum()), time.perf_counter() - started, threshold, recall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
