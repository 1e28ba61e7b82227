"""From passages to an answer: the pipeline, verification, answer types, generators, evaluation."""
