"""Language-model text encoder: node texts, batching, pooling, content cache, queries."""
