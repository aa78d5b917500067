"""Compression ops, one module per family; each registers its op names with registry.register_op."""
