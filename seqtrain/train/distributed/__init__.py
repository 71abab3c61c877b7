"""Multi-process training on torch.distributed: ranks, data sharding, gradient/parameter synchronisation."""
