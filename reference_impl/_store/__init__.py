"""Private store building blocks: plans, cores, drivers, shared Redis and SQL helpers."""
