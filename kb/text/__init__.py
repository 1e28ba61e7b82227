"""Text toolkit shared by chunking, retrieval, verification and the judge: sentences, numbers, analysis."""
