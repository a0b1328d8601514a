"""Reports that admit what they rest on: every figure carries an integrity annotation, and every
report can be computed as the data stood at an earlier time, from the change log."""
