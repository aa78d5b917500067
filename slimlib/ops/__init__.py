"""Compression ops, one module per family; each registers its op names with pipeline.register_op."""
