"""Background work: collection and action jobs, and the executors that run them."""
