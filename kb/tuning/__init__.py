"""Tuning the judge on a company's own documents, questions and feedback (``kb tune``), gated by held-out figures."""
