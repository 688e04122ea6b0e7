"""Plugin packages: the manifest model, archive checks, the version store and sources."""
