"""The app's own records: questions, answers, citations, feedback and the ingest log."""
