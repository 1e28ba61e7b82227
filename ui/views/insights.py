"""Insights (admins): usage, answered vs refused, feedback, latency, the knowledge-gaps report, the audit log."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from kb.errors import KBError
from ui import auth, render, resources

s = resources.settings()
kb = resources.knowledge_base(s)
store = resources.store(s)
user = auth.admin_only()
OUTCOME_COLOURS = {"answered": "#2e7d32", "not covered": "#ef8a17", "not stated": "#1c83e1", "refused": "#9e9e9e"}
WHY = {"not covered": "Not covered: nothing in the documents is about it",
       "not stated": "Not stated: the closest document is about it, but does not say",
       "refused": "Refused", "not helpful": "Rated not helpful"}


def outcome(row) -> str:
    if not row["refused"]:
        return "answered"
    return {"not_covered": "not covered", "not_stated": "not stated"}.get(row["refusal"] or "", "refused")


def closest(gap) -> str:
    if not gap.closest_path:
        return ""
    return Path(gap.closest_path).name + (f", page {gap.closest_page}" if gap.closest_page else "")


def bars(data: pd.DataFrame, category: str, value: str, colour: str, category_title: str, value_title: str,
         colours: dict | None = None, stacked: bool = True, horizontal: bool = False) -> None:
    """A bar chart (one bar per ``category``, coloured by ``colour``: stacked, or side by side) that leaves the
    mouse wheel to the page (no zoom or pan) and whose value axis starts at 0."""
    across, along = ("y", "x") if horizontal else ("x", "y")
    channel = {"x": alt.X, "y": alt.Y}
    encoding = {
        across: channel[across](f"{category}:N", title=category_title or None, sort=None),
        along: channel[along](f"{value}:Q", title=value_title, stack="zero" if stacked else None,
                              scale=alt.Scale(domainMin=0, nice=True)),
        "color": alt.Color(f"{colour}:N", title=None, scale=alt.Scale(domain=list(colours), range=list(colours.values()))
                           if colours else alt.Undefined),
        "tooltip": [category, colour, value]}
    if not stacked:
        encoding[f"{across}Offset"] = (alt.XOffset if across == "x" else alt.YOffset)(f"{colour}:N")
    st.altair_chart(alt.Chart(data).mark_bar().encode(**encoding), width="stretch")


def usage() -> None:
    """Usage, feedback and latency charts, and the knowledge gaps, for a chosen period."""
    days = st.segmented_control("Period", [7, 30, 90, 365], default=30, format_func=lambda d: f"Last {d} days",
                                key="insights_days") or 30
    since = time.time() - days * 86400
    questions = store.questions(since)
    if not questions:
        st.info("No questions asked yet in this period. Once employees use the Ask page, usage, feedback and "
                "knowledge gaps show up here.")
        return

    df = pd.DataFrame(questions)
    # one category per day (not a time axis, where a single day is a sliver): readable from the first day on
    df["day"] = pd.to_datetime(df["asked_at"], unit="s").dt.strftime("%Y-%m-%d")
    df["outcome"] = df.apply(outcome, axis=1)
    rated = df["rating"].notna()
    answered = int((df["refused"] == 0).sum())

    cols = st.columns(5)
    cols[0].metric("Questions", len(df))
    cols[1].metric("Answered", f"{answered / len(df):.0%}")
    cols[2].metric("Rated helpful", f"{(df['rating'] == 1).sum() / rated.sum():.0%}" if rated.any() else "—",
                   help="Share of rated answers that got a thumbs up")
    cols[3].metric("Rated not helpful", f"{(df['rating'] == -1).sum() / rated.sum():.0%}" if rated.any() else "—")
    cols[4].metric("Median answer time", f"{df['total_s'].median():.1f} s" if df["total_s"].notna().any() else "—")

    left, right = st.columns(2)
    with left:
        st.subheader("Questions per day")
        per_day = df.groupby(["day", "outcome"]).size().reset_index(name="questions")
        bars(per_day, "day", "questions", "outcome", "Day", "Questions",
             {k: v for k, v in OUTCOME_COLOURS.items() if k in set(per_day["outcome"])})
    with right:
        st.subheader("Answer time (seconds)")
        latency = df.dropna(subset=["total_s"]).groupby("day")["total_s"].quantile([0.5, 0.9, 0.99]).unstack()
        latency.columns = ["p50", "p90", "p99"]
        long = latency.reset_index().melt(id_vars="day", var_name="percentile", value_name="seconds")
        bars(long, "day", "seconds", "percentile", "Day", "Seconds", stacked=False)
        q, first = df["total_s"].dropna(), df["first_token_s"].dropna()
        words = f"; first words after {first.median():.1f} s (median)" if len(first) else ""  # none when quoting
        st.caption(f"All period: p50 {q.quantile(0.5):.1f} s · p90 {q.quantile(0.9):.1f} s · "
                   f"p99 {q.quantile(0.99):.1f} s{words}." if len(q) else "")

    st.subheader("Feedback")
    feedback = pd.DataFrame({"rating": ["helpful", "not helpful", "not rated"],
                             "answers": [int((df["rating"] == 1).sum()), int((df["rating"] == -1).sum()),
                                         int((~rated).sum())]})
    bars(feedback, "rating", "answers", "rating", "", "Answers", horizontal=True,
         colours={"helpful": "#2e7d32", "not helpful": "#ef8a17", "not rated": "#9e9e9e"})

    st.subheader("Knowledge gaps")
    st.caption("Questions the documents did not answer, and answers employees rated not helpful: what to write "
               "or fix next. *Not covered*: no document is about it (a document may be missing). *Not stated*: "
               "the closest document is about it but does not say (a line may be missing there).")
    gaps = store.gaps(since)
    if gaps:
        st.dataframe([{"Asked": datetime.fromtimestamp(g.asked_at).strftime("%Y-%m-%d %H:%M"), "Question": g.question,
                       "Why": WHY.get(g.reason, g.reason), "Closest document": closest(g), "Comment": g.comment,
                       "Answer given": g.answer} for g in gaps],
                     hide_index=True, width="stretch")
    else:
        st.success("No refused or not-helpful answers in this period.")
    render.admin_download("Download knowledge gaps (CSV)", lambda: render.gaps_csv(store.gaps(since), s.docs_dir),
                          f"knowledge-gaps-{datetime.now():%Y-%m-%d}.csv", "text/csv", resources.media_registry(),
                          key="gaps_csv")


def audit_log() -> None:
    """Who asked what and which documents they were shown (paths only, never passage text)."""
    st.caption(f"Questions, searches and downloads with the documents shown; kept "
               f"{f'{s.audit_retention_days} days' if s.audit_retention_days else 'forever'} "
               "(setting audit_retention_days).")
    who = st.text_input("Only this user", key="audit_user", placeholder="All users").strip() or None
    records = auth.audit(s).read(user, username=who, limit=500)
    if not records:
        st.info("No audited activity yet.")
        return
    st.dataframe([{"When": datetime.fromtimestamp(r.at).strftime("%Y-%m-%d %H:%M:%S"), "User": r.username,
                   "Action": r.action, "Question": r.question,
                   "Documents shown": ", ".join(Path(d).name for d in r.documents)} for r in records],
                 hide_index=True, width="stretch")


def tuning() -> None:
    """``kb tune`` from the browser: a budgeted run with a progress bar, then its before/after figures."""
    st.caption("Fine-tune the judge (the model that ranks passages and decides what answers a question) on "
               "these documents and on employees' 👍/👎, exactly as `kb tune` does. The tuned judge is adopted "
               "into a new index version only if its held-out figures improve and none drops; otherwise "
               "nothing changes. `kb rollback` undoes an adopted one.")
    status = kb.status().get("judge")
    if status is None:
        st.info("No judge is configured (setting `judge_model`), so there is nothing to fine-tune.")
        return
    st.write(f"Judge in use: **{'tuned for this index' if status['source'] == 'tuned' else status.get('model')}**")
    minutes = st.slider("Training time (minutes)", 1, 60, 10, key="tune_minutes")
    if st.button("Fine-tune now", icon=":material/model_training:", key="tune_now"):
        bar = st.progress(0.0, text="Gathering pairs…")
        names = {"train": "Training", "measure": "Measuring before and after"}

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{names.get(stage, stage)}: {done}/{total}")

        try:
            report = kb.tune(budget_minutes=minutes, progress=progress)
        except KBError as exc:
            bar.empty()
            st.error(str(exc))
            return
        bar.progress(1.0, text="Done")
        store.log_ingest("tune", f"{report.status}: {report.reason}", ok=report.status != "failed",
                         username=user.username)
        st.session_state["tune_report"] = report.to_json()
    report = st.session_state.get("tune_report") or kb.last_tune_report()
    if not report:
        return
    adopted = report["status"] == "adopted"
    (st.success if adopted else st.warning)(f"{'Adopted' if adopted else 'Not adopted'}: {report['reason']}")
    if report.get("before"):
        figures = pd.DataFrame({"before": report["before"], "after": report["after"]})
        long = figures.rename_axis("figure").reset_index().melt(id_vars="figure", var_name="when", value_name="value")
        bars(long, "figure", "value", "when", "", "Held-out figure", stacked=False, horizontal=True)
    st.dataframe([{"Learned from": k, "Pairs": v} for k, v in report.get("pairs", {}).items()],
                 hide_index=True)
    training = report.get("training", {})
    st.caption(f"Trained on {training.get('pairs', 0)} pairs in {training.get('trained_seconds', 0)} s; held out: "
               + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.get("held_out", {}).items()))


st.title("Insights")
usage_tab, tune_tab, audit_tab = st.tabs(["Usage and knowledge gaps", "Fine-tuning", "Audit log"], key="insights_tab")
with usage_tab:
    usage()
with tune_tab:
    tuning()
with audit_tab:
    audit_log()
