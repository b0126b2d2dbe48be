"""Knowledge base (chromadb + sentence embeddings), caller memory and ingestion."""
