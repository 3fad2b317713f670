"""The knowledge base: articles, their rendering, search, the public pages and reports."""
