"""NLP adapters: jieba segmentation and OpenCC script conversion (their only importers)."""
