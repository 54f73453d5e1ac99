"""Runnable examples of sessionspec in a real web application (see ``examples/demo``)."""
