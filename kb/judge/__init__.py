"""The judge: our own relevance-and-answerability model (cross-encoder), its training and data."""
