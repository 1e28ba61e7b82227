"""Insights (admins): usage, answered vs refused, feedback, latency, the knowledge-gaps report, the audit log."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from ui import auth, resources

s = resources.settings()
store = resources.store(s)
user = auth.admin_only()



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
    df["day"] = pd.to_datetime(df["asked_at"], unit="s").dt.floor("D")
    df["outcome"] = df["refused"].map({0: "answered", 1: "refused"})
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
        per_day = df.pivot_table(index="day", columns="outcome", values="id", aggfunc="count", fill_value=0)
        st.bar_chart(per_day, color=["#2e7d32", "#ef8a17"][: len(per_day.columns)])
    with right:
        st.subheader("Answer time (seconds)")
        latency = df.dropna(subset=["total_s"]).groupby("day")["total_s"].quantile([0.5, 0.9, 0.99]).unstack()
        latency.columns = ["p50", "p90", "p99"]
        st.bar_chart(latency, stack=False)
        q = df["total_s"].dropna()
        st.caption(f"All period: p50 {q.quantile(0.5):.1f} s · p90 {q.quantile(0.9):.1f} s · "
                   f"p99 {q.quantile(0.99):.1f} s; first words after "
                   f"{df['first_token_s'].dropna().median():.1f} s (median)." if len(q) else "")

    st.subheader("Feedback")
    feedback = pd.DataFrame({"helpful": [(df["rating"] == 1).sum()], "not helpful": [(df["rating"] == -1).sum()],
                             "not rated": [(~rated).sum()]}, index=["answers"]).T
    st.bar_chart(feedback, horizontal=True)

    st.subheader("Knowledge gaps")
    st.caption("Questions the documents did not answer, and answers employees rated not helpful: what to write "
               "or fix next.")
    gaps = store.gaps(since)
    if gaps:
        st.dataframe([{"Asked": datetime.fromtimestamp(g.asked_at).strftime("%Y-%m-%d %H:%M"), "Question": g.question,
                       "Why": g.reason, "Comment": g.comment, "Answer given": g.answer} for g in gaps],
                     hide_index=True, width="stretch")
    else:
        st.success("No refused or not-helpful answers in this period.")
    st.download_button("Download knowledge gaps (CSV)", data=store.gaps_csv(since),
                       file_name=f"knowledge-gaps-{datetime.now():%Y-%m-%d}.csv", mime="text/csv",
                       icon=":material/download:", key="gaps_csv")


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


st.title("Insights")
usage_tab, audit_tab = st.tabs(["Usage and knowledge gaps", "Audit log"])
with usage_tab:
    usage()
with audit_tab:
    audit_log()
