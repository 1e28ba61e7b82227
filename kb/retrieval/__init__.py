"""Reading an index version: both retrievers, their fusion, filters applied before ranking, reranking."""
